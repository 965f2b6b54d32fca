"""Weight and physical activity rules for adults.

- Obesity (BMI >= 30): USPSTF 2018, Weight Loss to Prevent Obesity-Related Morbidity and Mortality
  in Adults: Behavioral Interventions (Grade B): offer or refer to intensive, multicomponent
  behavioural interventions.
- Overweight (BMI 25-29.9) with a cardiovascular risk factor: 2013 AHA/ACC/TOS Guideline for the
  Management of Overweight and Obesity in Adults (Jensen et al.): counsel that modest sustained
  weight loss of 3-5 % gives clinically meaningful benefit, with a comprehensive lifestyle
  intervention.
- Activity under 150 min/week: 2019 ACC/AHA Guideline on the Primary Prevention of Cardiovascular
  Disease, section 3.2, in line with the 2018 Physical Activity Guidelines for Americans.
The two weight findings share the dedupe key "weight".
"""

from dataclasses import dataclass

from recommendations.engine import register
from recommendations.engine.facts import PatientFacts
from recommendations.engine.rules.cardiometabolic import (
    BMI,
    HEIGHT,
    LAB_MAX_AGE,
    PREGNANCY,
    WEIGHT,
    condition_reason,
    day,
    number,
    obs_reason,
    value_text,
)
from recommendations.engine.types import Finding, Reason, Rule, Source, Suggestion, Urgency

SOURCE_OBESITY = Source(
    "USPSTF Recommendation Statement: Behavioral Weight Loss Interventions to Prevent "
    "Obesity-Related Morbidity and Mortality in Adults",
    2018,
    "Recommendation Summary",
    "https://www.uspreventiveservicestaskforce.org/uspstf/recommendation/"
    "obesity-in-adults-interventions",
)
SOURCE_OVERWEIGHT = Source(
    "2013 AHA/ACC/TOS Guideline for the Management of Overweight and Obesity in Adults",
    2013,
    "Recommendation 2 (Matching Treatment Benefits With Risk Profiles, CQ1); Recommendation 4 "
    "(Lifestyle Intervention and Counseling, CQ3)",
    "https://doi.org/10.1161/01.cir.0000437739.71477.ee",
)
SOURCE_ACTIVITY = Source(
    "2019 ACC/AHA Guideline on the Primary Prevention of Cardiovascular Disease",
    2019,
    "3.2 (Exercise and Physical Activity)",
    "https://doi.org/10.1161/CIR.0000000000000678",
)

HYPERTENSION = ("I10", "I11", "I12", "I13", "I15")
TYPE_2_DIABETES = ("E11",)
DYSLIPIDAEMIA = ("E78",)
ACTIVITY_GOAL = 150  # min/week of moderate-intensity activity


@dataclass(frozen=True)
class BodyMassIndex:
    value: float
    reason: Reason


def body_mass_index(facts: PatientFacts) -> BodyMassIndex | None:
    """The recorded BMI from the past year, else one computed from a weight from the past year and
    the latest height (adult height changes little)."""
    bmi = facts.obs(BMI, LAB_MAX_AGE)
    if bmi is not None:
        return BodyMassIndex(bmi.value, obs_reason(bmi, "BMI"))
    weight = facts.obs(WEIGHT, LAB_MAX_AGE)
    height = facts.obs(HEIGHT)
    if weight is None or height is None or height.value <= 0:
        return None
    value = weight.value / (height.value / 100) ** 2
    text = (
        f"BMI {number(value)} kg/m² computed from weight {value_text(weight)} on {day(weight.at)} "
        f"and height {value_text(height)} on {day(height.at)}"
    )
    return BodyMassIndex(
        value, Reason(text, code=BMI, value=f"{number(value)} kg/m²", at=weight.at)
    )


def _adult(facts: PatientFacts) -> bool:
    return facts.age is None or facts.age >= 18


def _weight_loss_applies(facts: PatientFacts) -> bool:
    """Adults who are not pregnant: BMI does not classify weight in pregnancy, and weight loss is
    not a goal there (the USPSTF statement covers nonpregnant adults)."""
    return _adult(facts) and facts.condition(*PREGNANCY) is None


def obesity_intervention(facts: PatientFacts) -> Finding | None:
    bmi = body_mass_index(facts)
    if bmi is None or bmi.value < 30 or not _weight_loss_applies(facts):
        return None
    return Finding(
        rule_id="obesity-behavioural-intervention",
        title="Obesity: intensive behavioural weight-loss intervention",
        action=(
            "Offer or refer to an intensive, multicomponent behavioural intervention (diet, "
            "physical activity, self-monitoring, goal setting; about 12 or more sessions in the "
            "first year)."
        ),
        category="lifestyle",
        urgency=Urgency.ROUTINE,
        strength="moderate",
        evidence="Grade B",
        source=SOURCE_OBESITY,
        reasons=(bmi.reason,),
        suggestions=(Suggestion("Intensive behavioural weight-loss programme", kind="referral"),),
        dedupe_key="weight",
        details={"bmi": round(bmi.value, 1)},
    )


def overweight_counselling(facts: PatientFacts) -> Finding | None:
    bmi = body_mass_index(facts)
    if bmi is None or not 25 <= bmi.value < 30 or not _weight_loss_applies(facts):
        return None
    risk_factors = [
        condition_reason(c, label)
        for label, prefixes in (
            ("Hypertension", HYPERTENSION),
            ("Type 2 diabetes", TYPE_2_DIABETES),
            ("Dyslipidaemia", DYSLIPIDAEMIA),
        )
        if (c := facts.condition(*prefixes)) is not None
    ]
    if not risk_factors:
        return None
    return Finding(
        rule_id="overweight-cv-risk-counselling",
        title="Overweight with cardiovascular risk factors: weight-loss counselling",
        action=(
            "Counsel that a modest, sustained weight loss of 3-5 % improves blood pressure, "
            "glucose and lipids, and offer a comprehensive lifestyle programme (reduced-calorie "
            "diet, more physical activity, behavioural strategies)."
        ),
        category="lifestyle",
        urgency=Urgency.ROUTINE,
        strength="strong",
        evidence="NHLBI Grade A (strong); Class I, LOE A",
        source=SOURCE_OVERWEIGHT,
        reasons=(bmi.reason, *risk_factors),
        suggestions=(Suggestion("Comprehensive lifestyle intervention", kind="education"),),
        dedupe_key="weight",
        details={"bmi": round(bmi.value, 1)},
    )


def physical_activity(facts: PatientFacts) -> Finding | None:
    minutes = facts.activity_minutes_per_week
    if minutes is None or minutes >= ACTIVITY_GOAL or not _adult(facts):
        return None
    if facts.activity_at is not None and (facts.today - facts.activity_at).days > LAB_MAX_AGE:
        return None
    action = (
        "Advise at least 150 minutes a week of moderate-intensity (or 75 minutes of "
        "vigorous-intensity) aerobic activity, plus muscle-strengthening activity on 2 days a week."
    )
    if minutes == 0:
        action += " Any activity, even below the goal, lowers cardiovascular risk: start small."
    return Finding(
        rule_id="physical-activity-150-min",
        title="Physical activity below 150 minutes a week",
        action=action,
        category="lifestyle",
        urgency=Urgency.ROUTINE,
        strength="strong",
        evidence="Class I, LOE B-R",
        source=SOURCE_ACTIVITY,
        reasons=(
            Reason(
                f"Physical activity {minutes} min/week"
                + (f" reported on {day(facts.activity_at)}" if facts.activity_at else " (undated)")
                + f" (goal ≥ {ACTIVITY_GOAL})",
                code="activity",
                value=f"{minutes} min/week",
                at=facts.activity_at,
            ),
        ),
        suggestions=(Suggestion("Physical activity counselling", kind="education"),),
    )


register(
    Rule(
        id="obesity-behavioural-intervention",
        title="Obesity: behavioural weight-loss intervention",
        category="lifestyle",
        source=SOURCE_OBESITY,
        description=(
            "Nonpregnant adults with a BMI ≥ 30 (recorded, or from weight and height) in the past "
            "year: intensive multicomponent behavioural intervention."
        ),
        evaluate=obesity_intervention,
    )
)
register(
    Rule(
        id="overweight-cv-risk-counselling",
        title="Overweight with cardiovascular risk factors",
        category="lifestyle",
        source=SOURCE_OVERWEIGHT,
        description=(
            "Adults with a BMI of 25-29.9 and hypertension, type 2 diabetes or dyslipidaemia: "
            "weight-loss counselling."
        ),
        evaluate=overweight_counselling,
    )
)
register(
    Rule(
        id="physical-activity-150-min",
        title="Physical activity below recommendations",
        category="lifestyle",
        source=SOURCE_ACTIVITY,
        description=(
            "Adults reporting under 150 min/week of moderate activity in the past year: advise "
            "at least 150 (unknown activity: no finding)."
        ),
        evaluate=physical_activity,
    )
)
