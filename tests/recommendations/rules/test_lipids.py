"""Statin rules (2018 AHA/ACC cholesterol guideline) and the Pooled Cohort Equations."""

import datetime as dt

import pytest

from recommendations.engine import evaluate, rules_all
from recommendations.engine.pce import ascvd_10y
from recommendations.engine.types import Urgency
from tests.recommendations.rules.helpers import (
    ALT,
    DBP,
    HDL,
    LDL,
    LDL_MEASURED,
    RECENT,
    SBP,
    TODAY,
    TOTAL_CHOL,
    TRIGLYCERIDES,
    evaluate_rule,
    facts,
    obs,
    reasons_text,
    suppressed_text,
    with_obs,
)

ATORVASTATIN = ("Atorvastatin 20 mg", "C10AA05")
GUIDELINE = "2018 AHA/ACC Guideline on the Management of Blood Cholesterol"

# --- Pooled Cohort Equations ----------------------------------------------------------------------

EXAMPLE = dict(  # Goff 2013, Table A worked example: 55 y, TC 213, HDL 50, SBP 120 untreated
    age=55,
    total_cholesterol=213,
    hdl=50,
    systolic_bp=120,
    on_bp_treatment=False,
    smoker=False,
    diabetes=False,
)


@pytest.mark.parametrize(
    ("sex", "race", "published"),
    [
        ("female", "white", 0.021),
        ("female", "african_american", 0.030),
        ("male", "white", 0.053),
        ("male", "african_american", 0.061),
    ],
)
def test_pooled_cohort_equations_reproduce_the_guideline_worked_example(sex, race, published):
    """Goff DC Jr, et al. 2013 ACC/AHA Guideline on the Assessment of Cardiovascular Risk,
    Circulation 2014;129:S49-S73, Table A: 2.1 % (white woman), 3.0 % (African American woman),
    5.3 % (white man), 6.1 % (African American man). The published white-man figure was computed
    from the individual sum rounded to 60.69; the exact sum (60.6995) gives 5.38 %, hence the
    tolerance of 0.1 percentage point."""
    risk = ascvd_10y(sex=sex, race=race, **EXAMPLE)
    assert risk == pytest.approx(published, abs=0.001)


def test_pooled_cohort_equations_rise_with_smoking_treatment_and_diabetes():
    base = ascvd_10y(sex="male", **EXAMPLE)
    assert base is not None
    for change in ({"smoker": True}, {"on_bp_treatment": True}, {"diabetes": True}):
        worse = ascvd_10y(sex="male", **{**EXAMPLE, **change})
        assert worse is not None and worse > base


def test_pooled_cohort_equations_refuse_values_outside_their_range():
    assert ascvd_10y(sex="male", **{**EXAMPLE, "age": 39}) is None
    assert ascvd_10y(sex="male", **{**EXAMPLE, "age": 80}) is None
    assert ascvd_10y(sex="male", **{**EXAMPLE, "hdl": 110}) is None
    assert ascvd_10y(sex="unknown", **EXAMPLE) is None


def test_no_pooled_cohort_estimate_with_clinical_ascvd():
    """The equations estimate a first event: with clinical ASCVD no risk is computed."""
    patient = primary(conditions=("I25.10",))
    finding = evaluate_rule("statin-secondary-prevention", patient)
    assert finding is not None
    assert "Pooled Cohort" not in reasons_text(finding)
    assert "ascvd_10y" not in finding.details


# --- patients -------------------------------------------------------------------------------------


def primary(age=60, sex="male", ldl=140.0, tc=220.0, hdl=45.0, sbp=135.0, **kwargs):
    """Male 60, TC 220, HDL 45, SBP 135 untreated, non-smoker: 10-year risk 11.1 %."""
    values = {LDL: ldl, TOTAL_CHOL: tc, HDL: hdl, SBP: sbp, DBP: 80, **kwargs.pop("values", {})}
    return facts(age=age, sex=sex, values=values, **kwargs)


# --- statin-secondary-prevention ------------------------------------------------------------------


def test_clinical_ascvd_gets_a_high_intensity_statin():
    finding = evaluate_rule(
        "statin-secondary-prevention", facts(age=64, conditions=("I21.4",), values={LDL: 96})
    )
    assert finding is not None
    assert "Clinical ASCVD recorded (I21.4" in reasons_text(finding)
    assert f"LDL cholesterol 96 mg/dL on {RECENT.isoformat()}" in reasons_text(finding)
    assert finding.details["intensity"] == "high"
    assert finding.suggestions[0].code == "C10AA05"
    assert finding.suggestions[0].system == "http://www.whocc.no/atc"
    assert finding.dedupe_key == "statin"
    assert finding.evidence == "Class I, LOE A" and finding.urgency == Urgency.SOON
    assert finding.source.guideline == GUIDELINE and finding.source.section.startswith("4.1")


def test_clinical_ascvd_over_75_is_a_class_iia_recommendation():
    finding = evaluate_rule("statin-secondary-prevention", facts(age=80, conditions=("I63.9",)))
    assert finding is not None
    assert finding.evidence == "Class IIa, LOE B-R" and finding.strength == "moderate"


def test_secondary_prevention_is_quiet_on_a_statin_or_without_ascvd():
    on_statin = facts(conditions=("I25.10",), medications=(ATORVASTATIN,))
    assert evaluate_rule("statin-secondary-prevention", on_statin) is None
    by_name = facts(conditions=("I25.10",), medications=(("Rosuvastatin 10 mg", ""),))
    assert evaluate_rule("statin-secondary-prevention", by_name) is None
    assert evaluate_rule("statin-secondary-prevention", facts(conditions=("I10",))) is None


def test_statin_allergy_liver_disease_alt_and_pregnancy_are_contraindications():
    cases = (
        (facts(conditions=("I25.10",), allergies=(("Atorvastatin", "C10AA05"),)), "allergy"),
        (facts(conditions=("I25.10", "K74.60")), "liver disease recorded (K74.60)"),
        (
            facts(conditions=("I25.10",), values={ALT: 150}),
            f"ALT 150 U/L on {RECENT.isoformat()}: above 3 times",
        ),
        (facts(sex="female", conditions=("I25.10", "O09.90")), "pregnancy recorded (O09.90)"),
    )
    for patient, words in cases:
        finding = evaluate_rule("statin-secondary-prevention", patient)
        assert finding is not None
        assert words in suppressed_text(finding)
        assert finding.suggestions == ()
        assert "contraindicated" in finding.action
        assert finding.urgency == Urgency.SOON and finding.strength == "strong"


def test_fatty_liver_and_a_modest_alt_do_not_block_a_statin():
    patient = facts(conditions=("I25.10", "K76.0"), values={ALT: 60})
    finding = evaluate_rule("statin-secondary-prevention", patient)
    assert finding is not None and finding.suppressed == ()


# --- statin-severe-hypercholesterolaemia ----------------------------------------------------------


def test_ldl_190_or_more_gets_a_high_intensity_statin():
    finding = evaluate_rule("statin-severe-hypercholesterolaemia", facts(age=35, values={LDL: 204}))
    assert finding is not None
    assert f"LDL cholesterol 204 mg/dL on {RECENT.isoformat()} (≥ 190 mg/dL)" in (
        reasons_text(finding)
    )
    assert finding.details["intensity"] == "high" and finding.evidence == "Class I, LOE B-R"


def test_measured_ldl_counts_too():
    patient = facts(age=50, values={LDL_MEASURED: 195})
    assert evaluate_rule("statin-severe-hypercholesterolaemia", patient) is not None


def test_severe_hypercholesterolaemia_is_quiet_below_190_stale_or_on_a_statin():
    assert evaluate_rule("statin-severe-hypercholesterolaemia", facts(values={LDL: 180})) is None
    stale = with_obs(facts(), obs(LDL, 210, at=TODAY - dt.timedelta(days=400)))
    assert evaluate_rule("statin-severe-hypercholesterolaemia", stale) is None
    treated = facts(values={LDL: 210}, medications=(ATORVASTATIN,))
    assert evaluate_rule("statin-severe-hypercholesterolaemia", treated) is None


def test_severe_hypercholesterolaemia_contraindication():
    patient = facts(values={LDL: 210}, allergies=(("Statins", ""),))
    finding = evaluate_rule("statin-severe-hypercholesterolaemia", patient)
    assert finding is not None and "recorded allergy to Statins" in suppressed_text(finding)


# --- statin-diabetes ------------------------------------------------------------------------------


def test_diabetes_aged_40_to_75_gets_a_moderate_intensity_statin():
    finding = evaluate_rule(
        "statin-diabetes", facts(age=52, conditions=("E11.9",), values={LDL: 110})
    )
    assert finding is not None
    assert finding.details["intensity"] == "moderate"
    assert "Diabetes recorded (E11.9" in reasons_text(finding)
    assert finding.evidence == "Class I, LOE A"


def test_diabetes_with_risk_over_20_percent_gets_high_intensity():
    patient = primary(age=65, tc=230, hdl=40, sbp=132, conditions=("E11.9",))
    finding = evaluate_rule("statin-diabetes", patient)
    assert finding is not None
    assert finding.details["intensity"] == "high"
    assert finding.details["ascvd_10y"] >= 0.20
    assert "Class IIa" in finding.evidence


def test_diabetes_without_ldl_asks_for_a_lipid_profile():
    finding = evaluate_rule("statin-diabetes", facts(age=52, conditions=("E11.9",)))
    assert finding is not None and "measure a lipid profile" in finding.action


def test_diabetes_statin_is_quiet_out_of_age_range_or_with_ldl_below_70():
    assert evaluate_rule("statin-diabetes", facts(age=35, conditions=("E11.9",))) is None
    assert evaluate_rule("statin-diabetes", facts(age=80, conditions=("E11.9",))) is None
    low = facts(age=52, conditions=("E11.9",), values={LDL: 65})
    assert evaluate_rule("statin-diabetes", low) is None


def test_diabetes_statin_contraindication():
    patient = facts(age=52, conditions=("E11.9", "K70.30"))
    finding = evaluate_rule("statin-diabetes", patient)
    assert finding is not None and "K70.30" in suppressed_text(finding)


# --- statin-primary-prevention / statin-borderline-risk -------------------------------------------


def test_intermediate_risk_gets_a_moderate_intensity_statin():
    finding = evaluate_rule("statin-primary-prevention", primary())
    assert finding is not None
    assert finding.details["intensity"] == "moderate"
    assert finding.details["ascvd_10y"] == pytest.approx(0.1106, abs=0.0005)
    text = reasons_text(finding)
    assert "10-year ASCVD risk 11.1 % by the Pooled Cohort Equations" in text
    assert f"total cholesterol 220 mg/dL and HDL 45 mg/dL on {RECENT.isoformat()}" in text
    assert "race is not recorded, so the white/other equations were used" in text
    assert finding.dedupe_key == "statin"


def test_high_risk_gets_a_high_intensity_statin():
    patient = primary(age=68, tc=240, hdl=35, sbp=150, smoking="current")
    finding = evaluate_rule("statin-primary-prevention", patient)
    assert finding is not None and finding.details["intensity"] == "high"
    assert "smoker" in reasons_text(finding)


def test_primary_prevention_is_quiet_at_low_risk_missing_lipids_or_out_of_range():
    low = primary(age=45, sex="female", tc=190, hdl=60, sbp=115)
    assert evaluate_rule("statin-primary-prevention", low) is None
    assert evaluate_rule("statin-borderline-risk", low) is None
    no_hdl = facts(age=60, values={LDL: 140, TOTAL_CHOL: 220, SBP: 135})
    assert evaluate_rule("statin-primary-prevention", no_hdl) is None
    assert evaluate_rule("statin-primary-prevention", primary(age=78)) is None
    assert evaluate_rule("statin-primary-prevention", primary(ldl=60)) is None
    on_statin = primary(medications=(ATORVASTATIN,))
    assert evaluate_rule("statin-primary-prevention", on_statin) is None


def test_primary_prevention_contraindication():
    finding = evaluate_rule("statin-primary-prevention", primary(values={ALT: 200}))
    assert finding is not None and "ALT 200 U/L" in suppressed_text(finding)
    assert finding.suggestions == ()


def test_borderline_risk_asks_to_discuss_risk_enhancers():
    patient = primary(age=55, tc=213, hdl=50, sbp=120, values={TRIGLYCERIDES: 210})
    finding = evaluate_rule("statin-borderline-risk", patient)
    assert finding is not None
    assert evaluate_rule("statin-primary-prevention", patient) is None
    assert finding.strength == "weak" and finding.evidence == "Class IIb, LOE B-R"
    assert "Risk enhancer: triglycerides 210 mg/dL" in reasons_text(finding)
    assert "5.4 %" in finding.action


def test_borderline_risk_contraindication():
    patient = primary(
        age=55, tc=213, hdl=50, sbp=120, sex="male", allergies=(("Simvastatin", "C10AA01"),)
    )
    finding = evaluate_rule("statin-borderline-risk", patient)
    assert finding is not None and "Simvastatin" in suppressed_text(finding)


# --- dedupe ---------------------------------------------------------------------------------------


def test_statin_findings_are_merged_into_one():
    patient = facts(age=60, conditions=("I25.10", "E11.9"), values={LDL: 200})
    statins = [f for f in evaluate(patient, rules_all()) if f.category == "lipids"]
    assert len(statins) == 1
    assert statins[0].rule_id == "statin-secondary-prevention"
    text = reasons_text(statins[0])
    assert "Clinical ASCVD" in text and "Diabetes recorded (E11.9" in text
