"""Tobacco cessation for adults who smoke (USPSTF 2021).

Source: US Preventive Services Task Force. Interventions for Tobacco Smoking Cessation in Adults,
Including Pregnant Persons: Recommendation Statement. JAMA 2021;325(3):265-279. Nonpregnant adults:
behavioural interventions and FDA-approved pharmacotherapy (Grade A). Pregnant persons: behavioural
interventions (Grade A); pharmacotherapy evidence insufficient (I statement).
"""

from recommendations.engine import register
from recommendations.engine.facts import PatientFacts
from recommendations.engine.rules.cardiometabolic import (
    LAB_MAX_AGE,
    PREGNANCY,
    allergy_suppression,
    condition_reason,
    day,
    drug,
)
from recommendations.engine.types import (
    Finding,
    Reason,
    Rule,
    Source,
    Suggestion,
    Suppression,
    Urgency,
)

SOURCE = Source(
    "USPSTF Recommendation Statement: Interventions for Tobacco Smoking Cessation in Adults, "
    "Including Pregnant Persons",
    2021,
    "Recommendation Summary",
    "https://www.uspreventiveservicestaskforce.org/uspstf/recommendation/"
    "tobacco-use-in-adults-and-pregnant-women-counseling-and-interventions",
)

SEIZURE_DISORDER = ("G40",)
EATING_DISORDER = ("F50",)

VARENICLINE = drug("Varenicline (12 weeks)", "N07BA03", "varenicline")
NICOTINE_REPLACEMENT = drug("Nicotine replacement (patch plus short-acting form)", "N07BA01")
BUPROPION = drug("Bupropion SR (7-12 weeks)", "N06AX12", "bupropion")
COUNSELLING = Suggestion(
    "Behavioural counselling (brief advice, quitline referral, follow-up)", kind="referral"
)


def _pharmacotherapy(facts: PatientFacts) -> tuple[list[Suggestion], list[Suppression]]:
    offered: list[Suggestion] = []
    suppressed: list[Suppression] = []
    pregnant = facts.condition(*PREGNANCY)
    options = (
        ("Varenicline", VARENICLINE, ("varenicline",)),
        ("Nicotine replacement therapy", NICOTINE_REPLACEMENT, ("nicotine",)),
        ("Bupropion", BUPROPION, ("bupropion",)),
    )
    for option, suggestion, names in options:
        off: list[Suppression] = []
        if pregnant is not None:
            off.append(
                Suppression(
                    option,
                    f"pregnancy recorded ({pregnant.code}): evidence on pharmacotherapy in "
                    "pregnancy is insufficient (USPSTF I statement)",
                )
            )
        allergy = allergy_suppression(facts, option, suggestion.code, names=names)
        if allergy is not None:
            off.append(allergy)
        if suggestion is BUPROPION:
            seizures = facts.condition(*SEIZURE_DISORDER)
            if seizures is not None:
                off.append(
                    Suppression(
                        option,
                        f"seizure disorder recorded ({seizures.code}): lowers the seizure "
                        "threshold (contraindicated)",
                    )
                )
            eating = facts.condition(*EATING_DISORDER)
            if eating is not None:
                off.append(
                    Suppression(
                        option,
                        f"eating disorder recorded ({eating.code}): seizure risk (contraindicated)",
                    )
                )
        if off:
            suppressed.extend(off)
        else:
            offered.append(suggestion)
    return offered, suppressed


def tobacco_cessation(facts: PatientFacts) -> Finding | None:
    if facts.smoking != "current":
        return None
    if facts.age is not None and facts.age < 18:
        return None
    # A status recorded more than a year ago is not evidence of smoking today.
    if facts.smoking_at is not None and (facts.today - facts.smoking_at).days > LAB_MAX_AGE:
        return None
    reasons = [
        Reason(
            "Current smoker"
            + (f" (recorded on {day(facts.smoking_at)})" if facts.smoking_at else " (undated)"),
            code="smoking",
            value="current",
            at=facts.smoking_at,
        )
    ]
    pregnant = facts.condition(*PREGNANCY)
    offered, suppressed = _pharmacotherapy(facts)
    if pregnant is not None:
        reasons.append(condition_reason(pregnant, "Pregnancy"))
        action = (
            "Advise stopping smoking and provide behavioural counselling (repeated sessions, "
            "quitline); pharmacotherapy is not recommended routinely in pregnancy (insufficient "
            "evidence)."
        )
        evidence = "Grade A (behavioural); pharmacotherapy: I statement"
    else:
        action = (
            "Advise stopping smoking and offer behavioural counselling combined with "
            "pharmacotherapy (varenicline or combination nicotine replacement are the most "
            "effective)."
        )
        if not offered:
            action += (
                " Every first-line medicine appears contraindicated (see suppressed options): "
                "behavioural support alone, or specialist advice."
            )
        evidence = "Grade A"
    return Finding(
        rule_id="tobacco-cessation",
        title="Current smoker: counselling and pharmacotherapy",
        action=action,
        category="smoking",
        urgency=Urgency.ROUTINE,
        strength="strong",
        evidence=evidence,
        source=SOURCE,
        reasons=tuple(reasons),
        suppressed=tuple(suppressed),
        suggestions=(COUNSELLING, *offered),
    )


register(
    Rule(
        id="tobacco-cessation",
        title="Tobacco smoking cessation",
        category="smoking",
        source=SOURCE,
        description=(
            "Adults recorded as current smokers (in the past year): counselling and "
            "pharmacotherapy (behavioural only in pregnancy); contraindicated medicines suppressed."
        ),
        evaluate=tobacco_cessation,
    )
)
