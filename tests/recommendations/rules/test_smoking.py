"""Tobacco cessation (USPSTF 2021): fire, must not fire, contraindications and pregnancy."""

import datetime as dt

from tests.recommendations.rules.helpers import (
    RECENT,
    TODAY,
    evaluate_rule,
    facts,
    reasons_text,
    suppressed_text,
)

RULE = "tobacco-cessation"
VARENICLINE, NRT, BUPROPION = "N07BA03", "N07BA01", "N06AX12"


def _codes(finding):
    return [s.code for s in finding.suggestions if s.kind == "medication"]


def test_current_smoker_gets_counselling_and_pharmacotherapy():
    finding = evaluate_rule(RULE, facts(smoking="current", smoking_at=RECENT))
    assert finding is not None
    assert _codes(finding) == [VARENICLINE, NRT, BUPROPION]
    assert all(
        s.system == "http://www.whocc.no/atc" for s in finding.suggestions if s.kind == "medication"
    )
    assert any(s.kind == "referral" for s in finding.suggestions)
    assert f"Current smoker (recorded on {RECENT.isoformat()})" in reasons_text(finding)
    assert finding.reasons[0].at == RECENT
    assert finding.evidence == "Grade A" and finding.strength == "strong"
    assert finding.source.year == 2021 and "USPSTF" in finding.source.guideline


def test_former_never_unknown_or_stale_status_does_not_fire():
    for status in ("former", "never", "unknown", None):
        assert evaluate_rule(RULE, facts(smoking=status, smoking_at=RECENT)) is None
    stale = facts(smoking="current", smoking_at=TODAY - dt.timedelta(days=500))
    assert evaluate_rule(RULE, stale) is None
    assert evaluate_rule(RULE, facts(age=16, smoking="current", smoking_at=RECENT)) is None


def test_bupropion_is_suppressed_with_seizures_or_an_eating_disorder():
    for condition, words in (("G40.909", "seizure disorder"), ("F50.2", "eating disorder")):
        patient = facts(smoking="current", smoking_at=RECENT, conditions=(condition,))
        finding = evaluate_rule(RULE, patient)
        assert finding is not None
        assert BUPROPION not in _codes(finding)
        assert f"Bupropion: {words} recorded ({condition})" in suppressed_text(finding)
        assert VARENICLINE in _codes(finding)


def test_allergy_suppresses_that_medicine():
    patient = facts(smoking="current", smoking_at=RECENT, allergies=(("Varenicline", VARENICLINE),))
    finding = evaluate_rule(RULE, patient)
    assert finding is not None
    assert VARENICLINE not in _codes(finding)
    assert "Varenicline: recorded allergy to Varenicline" in suppressed_text(finding)


def test_pregnancy_gets_behavioural_counselling_only():
    patient = facts(sex="female", smoking="current", smoking_at=RECENT, conditions=("Z33.1",))
    finding = evaluate_rule(RULE, patient)
    assert finding is not None
    assert _codes(finding) == []
    assert [s.kind for s in finding.suggestions] == ["referral"]
    assert "I statement" in finding.evidence
    assert "Pregnancy recorded (Z33.1" in reasons_text(finding)
    assert len(finding.suppressed) == 3


def test_every_medicine_contraindicated_still_fires_and_says_so():
    patient = facts(
        smoking="current",
        smoking_at=RECENT,
        conditions=("G40.909",),
        allergies=(("Varenicline", VARENICLINE), ("Nicotine patch", NRT)),
    )
    finding = evaluate_rule(RULE, patient)
    assert finding is not None
    assert _codes(finding) == []
    assert "appears contraindicated" in finding.action
    assert finding.strength == "strong"
