"""Diabetes rules (ADA Standards of Care—2025): fire, must not fire, contraindications."""

import datetime as dt

from recommendations.engine.types import Urgency
from tests.recommendations.rules.helpers import (
    EGFR,
    GLUCOSE,
    HBA1C,
    RECENT,
    TODAY,
    evaluate_rule,
    facts,
    obs,
    reasons_text,
    suppressed_text,
    with_obs,
)

T2D = ("E11.9",)
ATC = "http://www.whocc.no/atc"
METFORMIN = ("Metformin 1 g", "A10BA02")


def _codes(finding):
    return [s.code for s in finding.suggestions]


# --- t2d-glycaemic-target ------------------------------------------------------------------------


def test_hba1c_above_seven_percent_in_type_2_diabetes_asks_to_intensify():
    finding = evaluate_rule(
        "t2d-glycaemic-target", facts(conditions=T2D, values={HBA1C: 8.1}, medications=(METFORMIN,))
    )
    assert finding is not None
    text = reasons_text(finding)
    assert f"HbA1c 8.1 % on {RECENT.isoformat()} (goal < 7 %)" in text
    assert "E11.9" in text
    assert finding.reasons[0].at == RECENT and finding.reasons[0].code == HBA1C
    assert finding.source.guideline == "ADA Standards of Care in Diabetes—2025"
    assert finding.source.year == 2025 and finding.source.section.startswith("6")
    assert finding.evidence.startswith("Grade A") and finding.strength == "strong"
    assert finding.urgency == Urgency.ROUTINE
    assert finding.details == {"hba1c": 8.1, "target": 7.0}


def test_hba1c_of_ten_or_more_is_soon_and_mentions_insulin():
    finding = evaluate_rule("t2d-glycaemic-target", facts(conditions=T2D, values={HBA1C: 10.4}))
    assert finding is not None
    assert finding.urgency == Urgency.SOON
    assert "insulin" in finding.action


def test_hba1c_at_goal_does_not_fire():
    assert evaluate_rule("t2d-glycaemic-target", facts(conditions=T2D, values={HBA1C: 6.8})) is None


def test_glycaemic_target_needs_type_2_diabetes_and_a_recent_hba1c():
    assert evaluate_rule("t2d-glycaemic-target", facts(values={HBA1C: 8.5})) is None
    stale = with_obs(facts(conditions=T2D), obs(HBA1C, 8.5, at=TODAY - dt.timedelta(days=400)))
    assert evaluate_rule("t2d-glycaemic-target", stale) is None


def test_from_age_75_the_goal_is_less_stringent():
    assert (
        evaluate_rule("t2d-glycaemic-target", facts(age=80, conditions=T2D, values={HBA1C: 7.6}))
        is None
    )
    finding = evaluate_rule(
        "t2d-glycaemic-target", facts(age=80, conditions=T2D, values={HBA1C: 8.3})
    )
    assert finding is not None
    assert "goal < 8 %" in reasons_text(finding)
    assert "Age 80" in reasons_text(finding)
    assert finding.evidence.startswith("Grade B")


def test_limited_life_expectancy_relaxes_the_goal():
    patient = facts(age=60, conditions=(*T2D, "C78.0"), values={HBA1C: 7.6})
    assert evaluate_rule("t2d-glycaemic-target", patient) is None


# --- t2d-hba1c-monitoring ------------------------------------------------------------------------


def test_type_2_diabetes_without_a_recent_hba1c_asks_to_measure_it():
    old = TODAY - dt.timedelta(days=500)
    finding = evaluate_rule(
        "t2d-hba1c-monitoring", with_obs(facts(conditions=T2D), obs(HBA1C, 7.2, at=old))
    )
    assert finding is not None
    assert f"Latest HbA1c 7.2 % on {old.isoformat()}" in reasons_text(finding)
    assert finding.suggestions[0].code == HBA1C
    never = evaluate_rule("t2d-hba1c-monitoring", facts(conditions=T2D))
    assert never is not None and "No HbA1c recorded" in reasons_text(never)


def test_hba1c_monitoring_is_quiet_with_a_recent_value_or_without_diabetes():
    assert evaluate_rule("t2d-hba1c-monitoring", facts(conditions=T2D, values={HBA1C: 6.9})) is None
    assert evaluate_rule("t2d-hba1c-monitoring", facts()) is None


# --- hyperglycaemia-confirm-diabetes --------------------------------------------------------------


def test_hba1c_in_diabetes_range_without_a_diagnosis_asks_for_confirmation():
    finding = evaluate_rule("hyperglycaemia-confirm-diabetes", facts(values={HBA1C: 6.7}))
    assert finding is not None
    assert f"HbA1c 6.7 % on {RECENT.isoformat()}" in reasons_text(finding)
    assert "repeat" in finding.action
    assert finding.source.section.startswith("2 ")
    assert finding.urgency == Urgency.SOON


def test_two_abnormal_tests_meet_the_diagnostic_criteria():
    finding = evaluate_rule(
        "hyperglycaemia-confirm-diabetes", facts(values={HBA1C: 6.9, GLUCOSE: 140})
    )
    assert finding is not None
    assert finding.title.startswith("Diabetes criteria met")
    assert "Plasma glucose 140 mg/dL" in reasons_text(finding)
    assert "fasting state not recorded" in reasons_text(finding)


def test_hyperglycaemia_rule_is_quiet_with_a_diagnosis_or_normal_values():
    assert (
        evaluate_rule("hyperglycaemia-confirm-diabetes", facts(conditions=T2D, values={HBA1C: 8}))
        is None
    )
    assert (
        evaluate_rule("hyperglycaemia-confirm-diabetes", facts(values={HBA1C: 6.1, GLUCOSE: 99}))
        is None
    )


# --- t2d-metformin-first-line ---------------------------------------------------------------------


def test_type_2_diabetes_not_on_metformin_is_offered_metformin():
    finding = evaluate_rule(
        "t2d-metformin-first-line", facts(conditions=T2D, values={HBA1C: 7.4, EGFR: 75})
    )
    assert finding is not None
    assert finding.suggestions[0].system == ATC and finding.suggestions[0].code == "A10BA02"
    assert finding.suppressed == ()
    text = reasons_text(finding)
    assert f"eGFR 75 mL/min/1.73 m² on {RECENT.isoformat()}" in text
    assert "Metformin is not among the active medications" in text
    assert finding.source.section.startswith("9")


def test_metformin_without_a_recent_egfr_asks_to_check_kidney_function_first():
    finding = evaluate_rule("t2d-metformin-first-line", facts(conditions=T2D))
    assert finding is not None
    assert "check kidney function" in finding.action


def test_metformin_rule_is_quiet_when_already_taking_it_or_without_diabetes():
    on_it = facts(conditions=T2D, medications=(METFORMIN,))
    assert evaluate_rule("t2d-metformin-first-line", on_it) is None
    by_name = facts(conditions=T2D, medications=(("Metformin XR 500 mg", ""),))
    assert evaluate_rule("t2d-metformin-first-line", by_name) is None
    assert evaluate_rule("t2d-metformin-first-line", facts(values={HBA1C: 8})) is None


def test_metformin_is_contraindicated_below_egfr_30_and_the_finding_says_so():
    finding = evaluate_rule("t2d-metformin-first-line", facts(conditions=T2D, values={EGFR: 24}))
    assert finding is not None
    assert finding.suggestions == ()
    assert finding.suppressed[0].option == "Metformin"
    assert f"eGFR 24 mL/min/1.73 m² on {RECENT.isoformat()}: contraindicated below 30" in (
        suppressed_text(finding)
    )
    assert "contraindicated for this patient" in finding.action
    assert finding.strength == "strong" and finding.urgency == Urgency.ROUTINE


def test_metformin_is_not_started_at_egfr_30_to_44():
    finding = evaluate_rule("t2d-metformin-first-line", facts(conditions=T2D, values={EGFR: 38}))
    assert finding is not None
    assert "not recommended (FDA label)" in suppressed_text(finding)


def test_metformin_allergy_and_hepatic_failure_suppress_metformin():
    allergic = facts(conditions=T2D, values={EGFR: 80}, allergies=(("Metformin", "A10BA02"),))
    finding = evaluate_rule("t2d-metformin-first-line", allergic)
    assert finding is not None and "allergy to Metformin" in suppressed_text(finding)
    liver = facts(conditions=(*T2D, "K72.10"), values={EGFR: 80})
    finding = evaluate_rule("t2d-metformin-first-line", liver)
    assert finding is not None and "severe hepatic disease recorded (K72.10)" in (
        suppressed_text(finding)
    )


# --- t2d-sglt2i-glp1ra-cardiorenal ----------------------------------------------------------------


RULE = "t2d-sglt2i-glp1ra-cardiorenal"


def test_heart_failure_prefers_an_sglt2_inhibitor():
    finding = evaluate_rule(RULE, facts(conditions=(*T2D, "I50.9"), medications=(METFORMIN,)))
    assert finding is not None
    assert _codes(finding)[0].startswith("A10BK")
    assert "A10BJ06" in _codes(finding)  # the GLP-1 RA stays an option
    assert "Heart failure recorded (I50.9)" in reasons_text(finding)
    assert finding.details["preferred"] == "sglt2i"
    assert finding.evidence == "Grade A"


def test_low_egfr_counts_as_kidney_disease():
    finding = evaluate_rule(RULE, facts(conditions=T2D, values={EGFR: 48}))
    assert finding is not None
    assert f"eGFR 48 mL/min/1.73 m² on {RECENT.isoformat()}" in reasons_text(finding)
    assert _codes(finding)[0].startswith("A10BK")


def test_ascvd_offers_either_class_glp1ra_first():
    finding = evaluate_rule(RULE, facts(conditions=(*T2D, "I25.10"), values={EGFR: 85}))
    assert finding is not None
    assert _codes(finding)[0].startswith("A10BJ")
    assert any(c.startswith("A10BK") for c in _codes(finding))
    assert "Clinical ASCVD recorded (I25.10)" in reasons_text(finding)


def test_cardiorenal_rule_is_quiet_without_comorbidity_or_when_on_either_class():
    assert evaluate_rule(RULE, facts(conditions=T2D, values={EGFR: 90})) is None
    on_sglt2i = facts(conditions=(*T2D, "I50.9"), medications=(("Empagliflozin", "A10BK03"),))
    assert evaluate_rule(RULE, on_sglt2i) is None
    on_glp1 = facts(conditions=(*T2D, "I25.10"), medications=(("Semaglutide", ""),))
    assert evaluate_rule(RULE, on_glp1) is None
    assert evaluate_rule(RULE, facts(conditions=("I50.9",))) is None


def test_sglt2i_is_suppressed_below_egfr_20_and_a_glp1ra_offered():
    finding = evaluate_rule(RULE, facts(conditions=(*T2D, "N18.5"), values={EGFR: 15}))
    assert finding is not None
    assert "eGFR 15 mL/min/1.73 m² on" in suppressed_text(finding)
    assert all(c.startswith("A10BJ") for c in _codes(finding))
    assert "GLP-1 receptor agonist" in finding.action


def test_sglt2i_is_suppressed_in_type_1_diabetes_ketoacidosis_or_allergy():
    for patient in (
        facts(conditions=(*T2D, "E10.9", "I50.9")),
        facts(conditions=(*T2D, "E11.10", "I50.9")),
        facts(conditions=(*T2D, "I50.9"), allergies=(("Dapagliflozin", "A10BK01"),)),
    ):
        finding = evaluate_rule(RULE, patient)
        assert finding is not None
        assert finding.suppressed and finding.suppressed[0].option == "SGLT2 inhibitor"
        assert not any(c.startswith("A10BK") for c in _codes(finding))


def test_glp1ra_is_suppressed_with_thyroid_carcinoma_men2_or_pancreatitis():
    for condition, words in (
        ("C73", "medullary thyroid carcinoma"),
        ("E31.22", "multiple endocrine neoplasia type 2"),
        ("K85.90", "pancreatitis (K85.90)"),
    ):
        finding = evaluate_rule(RULE, facts(conditions=(*T2D, "I25.10", condition)))
        assert finding is not None
        assert words in suppressed_text(finding)
        assert all(c.startswith("A10BK") for c in _codes(finding))


def test_both_classes_contraindicated_still_fires_and_says_so():
    patient = facts(conditions=(*T2D, "I50.9", "K86.1"), values={EGFR: 12})
    finding = evaluate_rule(RULE, patient)
    assert finding is not None
    assert finding.suggestions == ()
    assert "both" in finding.action and finding.strength == "strong"
