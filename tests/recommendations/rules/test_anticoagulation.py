"""Anticoagulation in atrial fibrillation by CHA2DS2-VASc (2023 ACC/AHA/ACCP/HRS, 6.3.1)."""

import datetime as dt

import pytest

from recommendations.engine.facts import ConditionFact, PatientFacts
from recommendations.engine.rules.anticoagulation import af_anticoagulation
from recommendations.engine.scores import cha2ds2_vasc
from recommendations.engine.types import Urgency
from tests.recommendations.rules.helpers import EGFR, TODAY, facts


def suppressed(finding):
    return {s.option: s.reason for s in finding.suppressed}


def suggested(finding):
    return [s.code for s in finding.suggestions]


# --- CHA2DS2-VASc ----------------------------------------------------------------------------


def test_score_counts_every_component():
    patient = facts(
        age=80,
        sex="female",
        conditions=("I50.9", "I10", "E11.9", "I63.9", "I21.4"),
    )
    score, components = cha2ds2_vasc(patient)
    points = {letter: p for letter, p, _ in components}
    assert points == {"C": 1, "H": 1, "D": 1, "S2": 2, "V": 1, "A2": 2, "Sc": 1}
    assert score == 9


@pytest.mark.parametrize(
    ("age", "expected"),
    [(64, 0), (65, 1), (74, 1), (75, 2), (None, 0)],
)
def test_score_age_points(age, expected):
    score, _ = cha2ds2_vasc(facts(age=age, sex="male"))
    assert score == expected


@pytest.mark.parametrize(
    ("code", "letter", "points"),
    [
        ("I50.1", "C", 1),
        ("I11.9", "H", 1),
        ("I15.0", "H", 1),
        ("E10.9", "D", 1),
        ("G45.9", "S2", 2),
        ("I74.3", "S2", 2),
        ("I25.10", "V", 1),
        ("I70.2", "V", 1),
        ("I73.9", "V", 1),
    ],
)
def test_score_condition_components(code, letter, points):
    score, components = cha2ds2_vasc(facts(age=50, conditions=(code,)))
    assert score == points
    [(got_letter, got_points, reason)] = components
    assert (got_letter, got_points) == (letter, points)
    assert reason.code == code


def test_other_peripheral_vascular_codes_do_not_count_as_vascular_disease():
    score, _ = cha2ds2_vasc(facts(age=50, conditions=("I73.0",)))  # Raynaud's syndrome
    assert score == 0


def test_score_reasons_carry_dates():
    onset = dt.date(2020, 3, 1)
    patient = PatientFacts(
        today=TODAY, age=70, sex="male", conditions=(ConditionFact("I10", "Hypertension", onset),)
    )
    _, components = cha2ds2_vasc(patient)
    reasons = {letter: reason for letter, _, reason in components}
    assert reasons["H"].at == onset and "2020-03-01" in reasons["H"].text
    assert reasons["A"].at == TODAY and reasons["A"].value == "70 years"


# --- the rule -------------------------------------------------------------------------------


def test_man_with_score_2_gets_class_1_doac_first():
    finding = af_anticoagulation(facts(age=70, conditions=("I48.0", "I10"), values={EGFR: 80}))
    assert finding is not None
    assert finding.rule_id == "af-anticoagulation"
    assert finding.strength == "strong" and finding.evidence == "Class 1, LOE A"
    assert finding.urgency == Urgency.SOON
    assert finding.details["cha2ds2_vasc"] == 2
    assert suggested(finding)[0] == "B01AF02"  # apixaban, a DOAC, first
    assert suggested(finding)[-1] == "B01AA03"  # warfarin last
    assert "DOAC is preferred" in finding.action
    assert not finding.suppressed
    texts = " ".join(r.text for r in finding.reasons)
    assert "CHA2DS2-VASc 2" in texts and "Age 70" in texts and "I10" in texts
    assert any(r.code == EGFR and r.value.startswith("80") and r.at for r in finding.reasons)
    assert finding.source.guideline and finding.source.year == 2023 and finding.source.section


def test_woman_needs_3_points_for_class_1():
    # Female + hypertension = 2 points: the intermediate band for women (Class 2a).
    finding = af_anticoagulation(facts(age=60, sex="female", conditions=("I48.91", "I10")))
    assert finding is not None
    assert finding.details["cha2ds2_vasc"] == 2
    assert finding.evidence == "Class 2a, LOE A" and finding.strength == "moderate"
    assert finding.urgency == Urgency.ROUTINE
    assert "Consider" in finding.title
    strong = af_anticoagulation(facts(age=66, sex="female", conditions=("I48.91", "I10")))
    assert strong is not None and strong.evidence == "Class 1, LOE A"


def test_man_with_score_1_is_class_2a():
    finding = af_anticoagulation(facts(age=68, conditions=("I48.2",)))
    assert finding is not None and finding.evidence == "Class 2a, LOE A"


@pytest.mark.parametrize(
    "patient",
    [
        facts(age=50, conditions=("I48.0",)),  # CHA2DS2-VASc 0
        facts(age=50, sex="female", conditions=("I48.0",)),  # 1, only the sex point
        facts(age=80, conditions=("I10", "I50.9")),  # no atrial fibrillation
        facts(age=80, conditions=("I48.0",), medications=(("Apixaban 5 mg", "B01AF02"),)),
        facts(age=80, conditions=("I48.0",), medications=(("Warfarin", "B01AA03"),)),
        facts(age=80, conditions=("I48.0",), medications=(("Pradaxa (dabigatran)", ""),)),
    ],
    ids=["score-0", "woman-score-1", "no-af", "on-doac", "on-warfarin", "on-oac-by-name"],
)
def test_does_not_fire(patient):
    assert af_anticoagulation(patient) is None


def test_unknown_age_scores_no_age_points():
    assert af_anticoagulation(facts(age=None, conditions=("I48.0",))) is None
    finding = af_anticoagulation(facts(age=None, conditions=("I48.0", "I63.9")))
    assert finding is not None
    assert any("lower bound" in r.text for r in finding.reasons)


def test_mechanical_valve_suppresses_every_doac_and_leaves_warfarin():
    finding = af_anticoagulation(facts(age=78, conditions=("I48.0", "Z95.2")))
    assert finding is not None
    assert set(suppressed(finding)) == {"Apixaban", "Rivaroxaban", "Edoxaban", "Dabigatran"}
    assert "Z95.2" in suppressed(finding)["Apixaban"]
    assert suggested(finding) == ["B01AA03"]
    assert "warfarin" in finding.action.lower()


def test_mitral_stenosis_suppresses_doacs():
    finding = af_anticoagulation(facts(age=78, conditions=("I48.0", "I05.0")))
    assert finding is not None
    assert "I05.0" in suppressed(finding)["Dabigatran"]
    assert suggested(finding) == ["B01AA03"]


def test_end_stage_kidney_disease_by_egfr_leaves_apixaban_and_warfarin():
    finding = af_anticoagulation(facts(age=78, conditions=("I48.0",), values={EGFR: 12}))
    assert finding is not None
    assert set(suppressed(finding)) == {"Rivaroxaban", "Edoxaban", "Dabigatran"}
    assert "eGFR 12" in suppressed(finding)["Dabigatran"]
    assert str(TODAY - dt.timedelta(days=20)) in suppressed(finding)["Dabigatran"]
    assert suggested(finding) == ["B01AF02", "B01AA03"]


def test_dialysis_suppresses_renally_cleared_doacs():
    finding = af_anticoagulation(facts(age=78, conditions=("I48.0", "Z99.2"), values={EGFR: 40}))
    assert finding is not None
    assert "Z99.2" in suppressed(finding)["Rivaroxaban"]
    assert "Apixaban" not in suppressed(finding)


def test_egfr_15_or_more_suppresses_nothing():
    finding = af_anticoagulation(facts(age=78, conditions=("I48.0",), values={EGFR: 15}))
    assert finding is not None and not finding.suppressed


def test_active_bleeding_suppresses_everything_and_still_fires():
    finding = af_anticoagulation(facts(age=78, conditions=("I48.0", "I10", "K92.2")))
    assert finding is not None
    assert len(finding.suppressed) == 5
    assert all("K92.2" in s.reason for s in finding.suppressed)
    assert "every option is contraindicated" in finding.action
    assert [s.kind for s in finding.suggestions] == ["referral"]
    # A clinician decides: urgency and strength are unchanged.
    assert finding.urgency == Urgency.SOON and finding.strength == "strong"


def test_coagulation_defect_counts_as_bleeding_risk():
    finding = af_anticoagulation(facts(age=78, conditions=("I48.0", "D68.0")))
    assert finding is not None and len(finding.suppressed) == 5


def test_allergy_suppresses_only_that_drug():
    finding = af_anticoagulation(
        facts(age=78, conditions=("I48.0",), allergies=(("Apixaban", "B01AF02"),))
    )
    assert finding is not None
    assert set(suppressed(finding)) == {"Apixaban"}
    assert "allergy" in suppressed(finding)["Apixaban"]
    assert suggested(finding)[0] == "B01AF01"


def test_class_allergy_suppresses_the_whole_class():
    finding = af_anticoagulation(
        facts(age=78, conditions=("I48.0",), allergies=(("Factor Xa inhibitors", "B01AF"),))
    )
    assert finding is not None
    assert set(suppressed(finding)) == {"Apixaban", "Rivaroxaban", "Edoxaban"}
