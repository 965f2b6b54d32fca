"""Follow-up of AI imaging findings (Fleischner 2017 nodules, BTS opacities), illustrative."""

import dataclasses
import datetime as dt
import math

import pytest

from recommendations.engine.rules.imaging_followup import (
    ILLUSTRATIVE_NOTE,
    equivalent_diameter_mm,
    imaging_nodule_followup,
    imaging_opacity_followup,
)
from recommendations.engine.types import Urgency
from tests.recommendations.rules.helpers import RECENT, TODAY, facts, study


def area_for(diameter_mm: float) -> float:
    return math.pi * (diameter_mm / 2) ** 2


def test_equivalent_diameter():
    assert equivalent_diameter_mm(area_for(7.0)) == pytest.approx(7.0)


def test_nodule_6_to_8_mm_gets_ct_at_6_to_12_months():
    finding = imaging_nodule_followup(facts(imaging=(study(area_mm2=area_for(7.0)),)))
    assert finding is not None
    assert finding.rule_id == "imaging-nodule-followup"
    assert "CT at 6-12 months" in finding.action
    assert finding.details["size_category"] == "6-8 mm" and finding.details["diameter_mm"] == 7.0
    assert finding.illustrative and finding.illustrative_note == ILLUSTRATIVE_NOTE
    assert "pending radiologist report" in finding.title
    assert finding.dedupe_key == "imaging-followup"
    first = finding.reasons[0]
    assert "nodule" in first.text and first.value == "90%" and first.at == RECENT
    assert any(r.value == "7 mm" for r in finding.reasons)
    assert finding.source.year == 2017 and "Fleischner" in finding.source.guideline
    assert finding.source.section


def test_small_nodule_low_risk_needs_no_routine_follow_up():
    finding = imaging_nodule_followup(
        facts(smoking="never", imaging=(study(area_mm2=area_for(4.0)),))
    )
    assert finding is not None
    assert "No routine follow-up" in finding.action
    assert finding.urgency == Urgency.ROUTINE and finding.strength == "weak"
    assert not finding.suggestions


def test_small_nodule_in_a_smoker_gets_optional_ct_at_12_months():
    finding = imaging_nodule_followup(
        facts(smoking="current", smoking_at=RECENT, imaging=(study(area_mm2=area_for(4.0)),))
    )
    assert finding is not None
    assert "Optional CT at 12 months" in finding.action and "high-risk" in finding.action
    assert any(r.text.startswith("Smoking: current") and r.at == RECENT for r in finding.reasons)


def test_large_nodule_gets_ct_at_3_months_pet_or_sampling():
    finding = imaging_nodule_followup(facts(imaging=(study(area_mm2=area_for(12.0)),)))
    assert finding is not None
    assert "CT at 3 months, PET/CT, or tissue sampling" in finding.action
    assert finding.urgency == Urgency.SOON


def test_unmeasured_nodule_asks_for_measurement():
    finding = imaging_nodule_followup(facts(imaging=(study(area_mm2=None),)))
    assert finding is not None and "not measured" in finding.action


def test_radiograph_nodule_asks_for_ct_first():
    finding = imaging_nodule_followup(facts(imaging=(study(modality="DX"),)))
    assert finding is not None and "characterise with chest CT" in finding.action


def test_signed_real_study_is_not_illustrative():
    real = dataclasses.replace(study(), synthetic=False, report_signed=True)
    finding = imaging_nodule_followup(facts(imaging=(real,)))
    assert finding is not None
    assert not finding.illustrative and finding.illustrative_note == ""
    assert "pending" not in finding.title


def test_only_the_newest_nodule_study_counts():
    newest = study(abnormal=0.3, at=TODAY - dt.timedelta(days=5))
    older = study(abnormal=0.95, at=TODAY - dt.timedelta(days=60))
    assert imaging_nodule_followup(facts(imaging=(newest, older))) is None
    big_newer = study(area_mm2=area_for(12.0), at=TODAY - dt.timedelta(days=5))
    small_older = study(area_mm2=area_for(4.0), at=TODAY - dt.timedelta(days=60))
    finding = imaging_nodule_followup(facts(imaging=(small_older, big_newer)))
    assert finding is not None and finding.details["size_category"] == "> 8 mm"


@pytest.mark.parametrize(
    "imaging",
    [
        (),
        (study(abnormal=0.4),),
        (study(at=TODAY - dt.timedelta(days=400)),),
        (study(predicted_class="normal", abnormal=0.9),),
        (study(predicted_class="opacity"),),
    ],
    ids=["no-studies", "low-probability", "older-than-a-year", "normal", "opacity-only"],
)
def test_nodule_does_not_fire(imaging):
    assert imaging_nodule_followup(facts(imaging=imaging)) is None


def test_opacity_gets_clinical_correlation_and_repeat_imaging():
    finding = imaging_opacity_followup(facts(imaging=(study(predicted_class="opacity"),)))
    assert finding is not None
    assert finding.rule_id == "imaging-opacity-followup"
    assert "Correlate clinically" in finding.action and "6-8 weeks" in finding.action
    assert finding.illustrative and finding.illustrative_note == ILLUSTRATIVE_NOTE
    assert finding.dedupe_key == "imaging-followup"
    assert finding.reasons[0].at == RECENT and "opacity" in finding.reasons[0].text
    assert finding.source.guideline.startswith("BTS") and finding.source.section


@pytest.mark.parametrize(
    "imaging",
    [
        (study(predicted_class="opacity", abnormal=0.2),),
        (study(predicted_class="opacity", at=TODAY - dt.timedelta(days=366)),),
        (study(),),
    ],
    ids=["low-probability", "too-old", "nodule-only"],
)
def test_opacity_does_not_fire(imaging):
    assert imaging_opacity_followup(facts(imaging=imaging)) is None
