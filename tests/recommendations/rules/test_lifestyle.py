"""Weight and physical activity rules: fire, must not fire, stale data."""

import datetime as dt

from recommendations.engine import evaluate, rules_all
from tests.recommendations.rules.helpers import (
    BMI,
    HEIGHT,
    RECENT,
    TODAY,
    WEIGHT,
    evaluate_rule,
    facts,
    obs,
    reasons_text,
    with_obs,
)

# --- obesity-behavioural-intervention ------------------------------------------------------------


def test_bmi_30_or_more_gets_an_intensive_behavioural_intervention():
    finding = evaluate_rule("obesity-behavioural-intervention", facts(values={BMI: 33.4}))
    assert finding is not None
    assert f"BMI 33.4 kg/m² on {RECENT.isoformat()}" in reasons_text(finding)
    assert finding.evidence == "Grade B" and finding.strength == "moderate"
    assert finding.source.year == 2018 and "USPSTF" in finding.source.guideline
    assert finding.suggestions[0].kind == "referral"
    assert finding.dedupe_key == "weight"


def test_bmi_is_computed_from_weight_and_height_when_not_recorded():
    old_height = TODAY - dt.timedelta(days=900)
    patient = with_obs(facts(values={WEIGHT: 95}), obs(HEIGHT, 170, at=old_height))
    finding = evaluate_rule("obesity-behavioural-intervention", patient)
    assert finding is not None
    assert (
        f"BMI 32.9 kg/m² computed from weight 95 kg on {RECENT.isoformat()} and height 170 cm "
        f"on {old_height.isoformat()}"
    ) in reasons_text(finding)


def test_obesity_rule_is_quiet_below_30_without_data_stale_or_for_minors():
    assert evaluate_rule("obesity-behavioural-intervention", facts(values={BMI: 27})) is None
    assert evaluate_rule("obesity-behavioural-intervention", facts()) is None
    stale = with_obs(facts(), obs(BMI, 34, at=TODAY - dt.timedelta(days=400)))
    assert evaluate_rule("obesity-behavioural-intervention", stale) is None
    assert (
        evaluate_rule("obesity-behavioural-intervention", facts(age=15, values={BMI: 31})) is None
    )


def test_pregnancy_excludes_the_weight_findings():
    pregnant = facts(sex="female", values={BMI: 32}, conditions=("Z33.1", "E11.9"))
    assert evaluate_rule("obesity-behavioural-intervention", pregnant) is None
    overweight = facts(sex="female", values={BMI: 27}, conditions=("O09.90", "I10"))
    assert evaluate_rule("overweight-cv-risk-counselling", overweight) is None


# --- overweight-cv-risk-counselling --------------------------------------------------------------


def test_overweight_with_a_cardiovascular_risk_factor_gets_counselling():
    patient = facts(values={BMI: 27.5}, conditions=("I10", "E78.5"))
    finding = evaluate_rule("overweight-cv-risk-counselling", patient)
    assert finding is not None
    text = reasons_text(finding)
    assert "BMI 27.5 kg/m²" in text
    assert "Hypertension recorded (I10" in text and "Dyslipidaemia recorded (E78.5" in text
    assert "3-5 %" in finding.action
    assert finding.source.year == 2013 and "AHA/ACC/TOS" in finding.source.guideline


def test_overweight_without_risk_factor_or_obese_does_not_get_the_overweight_finding():
    assert evaluate_rule("overweight-cv-risk-counselling", facts(values={BMI: 27.5})) is None
    obese = facts(values={BMI: 31}, conditions=("E11.9",))
    assert evaluate_rule("overweight-cv-risk-counselling", obese) is None
    normal = facts(values={BMI: 23}, conditions=("E11.9",))
    assert evaluate_rule("overweight-cv-risk-counselling", normal) is None


def test_only_one_weight_finding_is_kept():
    patient = facts(values={BMI: 31}, conditions=("E11.9",))
    weight = [f for f in evaluate(patient, rules_all()) if f.dedupe_key == "weight"]
    assert [f.rule_id for f in weight] == ["obesity-behavioural-intervention"]


# --- physical-activity-150-min -------------------------------------------------------------------


def test_under_150_minutes_a_week_gets_activity_advice():
    patient = facts(activity_minutes_per_week=60, activity_at=RECENT)
    finding = evaluate_rule("physical-activity-150-min", patient)
    assert finding is not None
    assert f"Physical activity 60 min/week reported on {RECENT.isoformat()}" in (
        reasons_text(finding)
    )
    assert "150 minutes" in finding.action
    assert finding.source.section.startswith("3.2") and finding.evidence == "Class I, LOE B-R"


def test_no_activity_is_encouraged_to_start_small():
    finding = evaluate_rule(
        "physical-activity-150-min", facts(activity_minutes_per_week=0, activity_at=RECENT)
    )
    assert finding is not None and "start small" in finding.action


def test_activity_rule_is_quiet_when_active_unknown_or_stale():
    active = facts(activity_minutes_per_week=200, activity_at=RECENT)
    assert evaluate_rule("physical-activity-150-min", active) is None
    assert evaluate_rule("physical-activity-150-min", facts()) is None
    stale = facts(activity_minutes_per_week=30, activity_at=TODAY - dt.timedelta(days=500))
    assert evaluate_rule("physical-activity-150-min", stale) is None
