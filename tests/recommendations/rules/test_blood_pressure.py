"""Blood pressure rules (2017 ACC/AHA): fire, must not fire, first-line class contraindications."""

import datetime as dt

from recommendations.engine import evaluate, rules_all
from recommendations.engine.types import Urgency
from tests.recommendations.rules.helpers import (
    DBP,
    EGFR,
    HDL,
    POTASSIUM,
    RECENT,
    SBP,
    TODAY,
    TOTAL_CHOL,
    evaluate_rule,
    facts,
    obs,
    reasons_text,
    suppressed_text,
    with_obs,
)

GUIDELINE_START = "2017 ACC/AHA Guideline for the Prevention, Detection, Evaluation"
AMLODIPINE = ("Amlodipine 5 mg", "C08CA01")
LISINOPRIL = ("Lisinopril 10 mg", "C09AA03")
THIAZIDE, CCB, ACEI, ARB = "C03BA04", "C08CA01", "C09AA03", "C09CA01"


def bp(sbp: float, dbp: float, **kwargs) -> dict[str, float]:
    return {SBP: sbp, DBP: dbp, **kwargs}


def _codes(finding):
    return [s.code for s in finding.suggestions if s.kind == "medication"]


# --- bp-hypertensive-crisis -----------------------------------------------------------------------


def test_crisis_range_is_urgent():
    finding = evaluate_rule("bp-hypertensive-crisis", facts(values=bp(186, 104)))
    assert finding is not None
    assert finding.urgency == Urgency.URGENT
    assert f"Systolic BP 186 mmHg on {RECENT.isoformat()} (crisis range ≥ 180)" in (
        reasons_text(finding)
    )
    assert finding.source.guideline.startswith(GUIDELINE_START)
    assert finding.source.section.startswith("11.2") and finding.evidence.startswith("Class I")


def test_crisis_fires_on_diastolic_alone_and_on_treatment():
    patient = facts(values=bp(170, 124), medications=(AMLODIPINE,))
    finding = evaluate_rule("bp-hypertensive-crisis", patient)
    assert finding is not None and "Diastolic BP 124 mmHg" in reasons_text(finding)


def test_crisis_is_quiet_below_180_120_or_with_stale_readings():
    assert evaluate_rule("bp-hypertensive-crisis", facts(values=bp(178, 118))) is None
    old = TODAY - dt.timedelta(days=200)
    stale = with_obs(facts(), obs(SBP, 190, at=old), obs(DBP, 125, at=old))
    assert evaluate_rule("bp-hypertensive-crisis", stale) is None


def test_crisis_supersedes_the_stage_2_finding():
    ids = [f.rule_id for f in evaluate(facts(values=bp(190, 110)), rules_all())]
    assert "bp-hypertensive-crisis" in ids and "bp-stage2-start-treatment" not in ids


# --- bp-stage2-start-treatment --------------------------------------------------------------------


def test_stage_2_untreated_starts_two_agents_when_more_than_20_10_above_target():
    finding = evaluate_rule("bp-stage2-start-treatment", facts(values=bp(162, 96)))
    assert finding is not None
    assert "two first-line antihypertensives" in finding.action
    assert "162/96" in finding.action
    assert finding.details["two_drugs"] is True
    assert set(_codes(finding)) == {THIAZIDE, CCB, ACEI, ARB}
    assert all(s.system == "http://www.whocc.no/atc" for s in finding.suggestions if s.code)
    assert finding.dedupe_key == "bp-drug"
    assert finding.urgency == Urgency.SOON
    assert f"Diastolic BP 96 mmHg on {RECENT.isoformat()}" in reasons_text(finding)
    assert "8.1" in finding.source.section


def test_stage_2_close_to_target_starts_one_agent():
    finding = evaluate_rule("bp-stage2-start-treatment", facts(values=bp(144, 88)))
    assert finding is not None
    assert finding.details["two_drugs"] is False
    assert "a first-line antihypertensive" in finding.action


def test_stage_2_rule_is_quiet_on_treatment_or_below_140_90():
    on_drug = facts(values=bp(150, 92), medications=(AMLODIPINE,))
    assert evaluate_rule("bp-stage2-start-treatment", on_drug) is None
    assert evaluate_rule("bp-stage2-start-treatment", facts(values=bp(136, 86))) is None


def test_pregnancy_suppresses_ace_inhibitor_and_arb():
    finding = evaluate_rule(
        "bp-stage2-start-treatment", facts(sex="female", values=bp(150, 95), conditions=("Z33.1",))
    )
    assert finding is not None
    text = suppressed_text(finding)
    assert "ACE inhibitor: pregnancy recorded (Z33.1)" in text
    assert "Angiotensin receptor blocker: pregnancy recorded (Z33.1)" in text
    assert ACEI not in _codes(finding) and ARB not in _codes(finding)
    assert CCB in _codes(finding)


def test_hyperkalaemia_and_angioedema_suppress_ace_inhibitor_and_arb():
    high_k = facts(values=bp(150, 95, **{POTASSIUM: 5.9}))
    finding = evaluate_rule("bp-stage2-start-treatment", high_k)
    assert finding is not None
    assert f"potassium 5.9 mmol/L on {RECENT.isoformat()}: hyperkalaemia" in (
        suppressed_text(finding)
    )
    assert ACEI not in _codes(finding)
    angioedema = facts(values=bp(150, 95), conditions=("T78.3XXA",))
    finding = evaluate_rule("bp-stage2-start-treatment", angioedema)
    assert finding is not None and "history of angioedema (T78.3XXA)" in suppressed_text(finding)


def test_gout_suppresses_the_thiazide_and_allergy_its_class():
    finding = evaluate_rule(
        "bp-stage2-start-treatment", facts(values=bp(150, 95), conditions=("M10.9",))
    )
    assert finding is not None
    assert "Thiazide-type diuretic: gout recorded (M10.9)" in suppressed_text(finding)
    assert THIAZIDE not in _codes(finding)
    allergic = facts(values=bp(150, 95), allergies=(("Amlodipine", "C08CA01"),))
    finding = evaluate_rule("bp-stage2-start-treatment", allergic)
    assert finding is not None and CCB not in _codes(finding)
    assert "recorded allergy to Amlodipine" in suppressed_text(finding)


def test_every_class_contraindicated_still_fires_and_says_so():
    patient = facts(
        values=bp(150, 95, **{POTASSIUM: 6.0}),
        conditions=("M10.9",),
        allergies=(("Amlodipine", "C08CA01"),),
    )
    finding = evaluate_rule("bp-stage2-start-treatment", patient)
    assert finding is not None
    assert _codes(finding) == []
    assert "Every first-line class appears contraindicated" in finding.action
    assert finding.strength == "strong" and finding.urgency == Urgency.SOON


# --- stage 1 --------------------------------------------------------------------------------------


def test_stage_1_with_ten_year_risk_over_10_percent_starts_medication():
    patient = facts(age=62, values=bp(134, 84, **{TOTAL_CHOL: 230, HDL: 45}))
    finding = evaluate_rule("bp-stage1-start-treatment", patient)
    assert finding is not None
    assert "10-year ASCVD risk 13.1 %" in reasons_text(finding)
    assert "white/other equations" in reasons_text(finding)
    assert finding.details["ascvd_10y"] > 0.1
    assert finding.dedupe_key == "bp-drug"
    assert evaluate_rule("bp-stage1-lifestyle", patient) is None


def test_stage_1_with_diabetes_ckd_or_ascvd_starts_medication():
    for patient, words in (
        (facts(values=bp(132, 82), conditions=("E11.9",)), "Diabetes recorded (E11.9"),
        (facts(values=bp(132, 82, **{EGFR: 50})), "eGFR 50"),
        (facts(values=bp(128, 85), conditions=("I63.9",)), "Clinical ASCVD recorded (I63.9"),
    ):
        finding = evaluate_rule("bp-stage1-start-treatment", patient)
        assert finding is not None
        assert words in reasons_text(finding)


def test_stage_1_diastolic_only_cites_the_expert_opinion_level():
    finding = evaluate_rule(
        "bp-stage1-start-treatment", facts(values=bp(124, 86), conditions=("E11.9",))
    )
    assert finding is not None and finding.evidence == "Class I, LOE C-EO (DBP)"


def test_stage_1_from_age_65_uses_the_systolic_threshold_130():
    finding = evaluate_rule("bp-stage1-start-treatment", facts(age=70, values=bp(134, 76)))
    assert finding is not None and "Age 70" in reasons_text(finding)


def test_stage_1_at_low_risk_gets_lifestyle_and_a_reassessment():
    patient = facts(age=50, values=bp(134, 84, **{TOTAL_CHOL: 200, HDL: 50}))
    assert evaluate_rule("bp-stage1-start-treatment", patient) is None
    finding = evaluate_rule("bp-stage1-lifestyle", patient)
    assert finding is not None
    assert "3-6 months" in finding.action
    assert "10-year ASCVD risk 3.7 %" in reasons_text(finding)
    assert "6.2" in finding.source.section


def test_stage_1_without_lipids_asks_for_a_lipid_profile():
    finding = evaluate_rule("bp-stage1-lifestyle", facts(age=50, values=bp(134, 84)))
    assert finding is not None and "measure a lipid profile" in finding.action


def test_stage_1_rules_are_quiet_on_treatment_or_at_normal_bp():
    on_drug = facts(values=bp(134, 84), medications=(AMLODIPINE,), conditions=("E11.9",))
    assert evaluate_rule("bp-stage1-start-treatment", on_drug) is None
    assert evaluate_rule("bp-stage1-lifestyle", on_drug) is None
    assert evaluate_rule("bp-stage1-lifestyle", facts(values=bp(118, 76))) is None


def test_stage_1_medication_honours_contraindications():
    patient = facts(values=bp(134, 84), conditions=("E11.9", "Z33.1"), sex="female")
    finding = evaluate_rule("bp-stage1-start-treatment", patient)
    assert finding is not None and ACEI not in _codes(finding)
    assert "pregnancy recorded (Z33.1)" in suppressed_text(finding)


# --- bp-elevated-lifestyle ------------------------------------------------------------------------


def test_elevated_bp_gets_lifestyle():
    finding = evaluate_rule("bp-elevated-lifestyle", facts(values=bp(124, 76)))
    assert finding is not None
    assert f"Systolic BP 124 mmHg on {RECENT.isoformat()}" in reasons_text(finding)
    assert finding.evidence == "Class I, LOE A"


def test_elevated_rule_is_quiet_when_normal_stage_1_or_treated():
    assert evaluate_rule("bp-elevated-lifestyle", facts(values=bp(116, 74))) is None
    assert evaluate_rule("bp-elevated-lifestyle", facts(values=bp(124, 82))) is None
    treated = facts(values=bp(124, 76), medications=(AMLODIPINE,))
    assert evaluate_rule("bp-elevated-lifestyle", treated) is None


# --- bp-above-target-intensify --------------------------------------------------------------------


def test_treated_bp_above_130_80_intensifies_with_unused_classes():
    patient = facts(values=bp(146, 88), medications=(AMLODIPINE,), conditions=("E11.9",))
    finding = evaluate_rule("bp-above-target-intensify", patient)
    assert finding is not None
    assert CCB not in _codes(finding)  # already taking one
    assert {THIAZIDE, ACEI, ARB} <= set(_codes(finding))
    assert "On Amlodipine 5 mg (C08CA01)" in reasons_text(finding)
    assert finding.strength == "strong" and finding.evidence.startswith("Class I")
    assert finding.urgency == Urgency.SOON
    assert finding.dedupe_key == "bp-drug"


def test_treated_lower_risk_patient_gets_a_weak_intensify():
    finding = evaluate_rule(
        "bp-above-target-intensify", facts(age=45, values=bp(134, 78), medications=(AMLODIPINE,))
    )
    assert finding is not None
    assert finding.strength == "weak" and finding.evidence.startswith("Class IIb")
    assert finding.urgency == Urgency.ROUTINE


def test_ace_inhibitor_plus_arb_is_never_offered():
    finding = evaluate_rule(
        "bp-above-target-intensify", facts(values=bp(142, 86), medications=(LISINOPRIL,))
    )
    assert finding is not None
    assert ARB not in _codes(finding) and ACEI not in _codes(finding)
    assert "already taking an ACE inhibitor" in suppressed_text(finding)


def test_antihypertensives_recorded_by_name_only_count_as_treatment():
    by_name = facts(values=bp(150, 92), medications=(("Ramipril 5 mg", ""),))
    assert evaluate_rule("bp-stage2-start-treatment", by_name) is None
    finding = evaluate_rule("bp-above-target-intensify", by_name)
    assert finding is not None
    assert "On Ramipril 5 mg" in reasons_text(finding)
    assert ACEI not in _codes(finding) and ARB not in _codes(finding)


def test_intensify_honours_hyperkalaemia():
    patient = facts(values=bp(142, 86, **{POTASSIUM: 5.8}), medications=(AMLODIPINE,))
    finding = evaluate_rule("bp-above-target-intensify", patient)
    assert finding is not None
    assert ACEI not in _codes(finding) and ARB not in _codes(finding)
    assert "potassium 5.8 mmol/L" in suppressed_text(finding)


def test_intensify_is_quiet_at_target_untreated_or_in_crisis():
    at_target = facts(values=bp(126, 76), medications=(AMLODIPINE,))
    assert evaluate_rule("bp-above-target-intensify", at_target) is None
    assert evaluate_rule("bp-above-target-intensify", facts(values=bp(146, 88))) is None
    crisis = facts(values=bp(184, 100), medications=(AMLODIPINE,))
    assert evaluate_rule("bp-above-target-intensify", crisis) is None
