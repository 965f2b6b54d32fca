"""Blood pressure rules by the 2017 ACC/AHA thresholds: crisis, stage 2, stage 1 by 10-year ASCVD
risk, elevated BP, and treated BP above the 130/80 target.

Source: Whelton PK, et al. 2017 ACC/AHA/AAPA/ABC/ACPM/AGS/APhA/ASH/ASPC/NMA/PCNA Guideline for the
Prevention, Detection, Evaluation, and Management of High Blood Pressure in Adults. Hypertension
2018;71:e13-e115. Categories (section 3.2, Table 6): normal < 120/80, elevated 120-129/< 80,
stage 1 130-139 or 80-89, stage 2 >= 140 or >= 90; crisis >= 180 and/or >= 120 (section 11.2).

The record keeps the latest reading of each code, so "average BP" is the latest systolic and
diastolic reading from the past six months; out-of-office confirmation is part of the advice.
"""

from dataclasses import dataclass

from recommendations.engine import register
from recommendations.engine.facts import ObservationFact, PatientFacts
from recommendations.engine.rules.antihypertensives import (
    ACE_INHIBITOR,
    ARB,
    FIRST_LINE,
    class_suppressions,
    drug_options,
)
from recommendations.engine.rules.cardiometabolic import (
    BP_MAX_AGE,
    DBP,
    DIABETES,
    SBP,
    ascvd_reasons,
    ascvd_risk,
    ckd_reasons,
    condition_reason,
    is_antihypertensive,
    medication_reason,
    number,
    obs_reason,
    on_antihypertensive,
)
from recommendations.engine.types import (
    Finding,
    Reason,
    Rule,
    Source,
    Strength,
    Suggestion,
    Suppression,
    Urgency,
)

GUIDELINE = (
    "2017 ACC/AHA Guideline for the Prevention, Detection, Evaluation, and Management of High "
    "Blood Pressure in Adults"
)
URL = "https://doi.org/10.1161/HYP.0000000000000065"
SOURCE_CRISIS = Source(GUIDELINE, 2017, "11.2 (Hypertensive Crises—Emergencies and Urgencies)", URL)
SOURCE_TREATMENT = Source(
    GUIDELINE,
    2017,
    "8.1.2 (BP Treatment Threshold and CVD Risk Estimation), Table 23, Figure 4; 8.1.6 (Choice "
    "of Initial Medication)",
    URL,
)
SOURCE_LIFESTYLE = Source(
    GUIDELINE, 2017, "6.2 (Nonpharmacological Interventions); 8.1.2, Figure 4", URL
)
SOURCE_TARGET = Source(
    GUIDELINE, 2017, "8.1.5 (BP Goal for Patients With Hypertension), Table 23", URL
)

TARGET_SBP, TARGET_DBP = 130, 80

LIFESTYLE = Suggestion(
    "Lifestyle: weight loss, DASH diet, sodium < 1500 mg/day, potassium-rich diet, physical "
    "activity, alcohol ≤ 1-2 drinks/day",
    kind="education",
)


@dataclass(frozen=True)
class Reading:
    sbp: ObservationFact
    dbp: ObservationFact

    @property
    def text(self) -> str:
        return f"{number(self.sbp.value)}/{number(self.dbp.value)} mmHg"

    @property
    def reasons(self) -> tuple[Reason, ...]:
        return (
            obs_reason(self.sbp, "Systolic BP", "latest reading"),
            obs_reason(self.dbp, "Diastolic BP", "latest reading"),
        )

    @property
    def crisis(self) -> bool:
        return self.sbp.value >= 180 or self.dbp.value >= 120

    @property
    def stage2(self) -> bool:
        return self.sbp.value >= 140 or self.dbp.value >= 90

    @property
    def stage1(self) -> bool:
        return not self.stage2 and (self.sbp.value >= 130 or self.dbp.value >= 80)

    @property
    def elevated(self) -> bool:
        return 120 <= self.sbp.value < 130 and self.dbp.value < 80

    @property
    def above_target(self) -> bool:
        return self.sbp.value >= TARGET_SBP or self.dbp.value >= TARGET_DBP


def reading(facts: PatientFacts) -> Reading | None:
    sbp = facts.obs(SBP, BP_MAX_AGE)
    dbp = facts.obs(DBP, BP_MAX_AGE)
    if sbp is None or dbp is None:
        return None
    return Reading(sbp, dbp)


# --- higher-risk markers (Table 23, section 8.1.2) -----------------------------------------------


@dataclass(frozen=True)
class RiskProfile:
    reasons: tuple[Reason, ...]  # why this patient counts as higher risk (empty: not)
    risk: float | None  # 10-year ASCVD risk, None when it could not be estimated
    risk_reasons: tuple[Reason, ...]

    @property
    def high(self) -> bool:
        return bool(self.reasons)


def risk_profile(facts: PatientFacts) -> RiskProfile:
    reasons: list[Reason] = [*ascvd_reasons(facts)]
    diabetes = facts.condition(*DIABETES)
    if diabetes is not None:
        reasons.append(condition_reason(diabetes, "Diabetes"))
    reasons.extend(ckd_reasons(facts))
    estimate = ascvd_risk(facts)
    if estimate is not None and estimate.risk >= 0.10:
        reasons.extend(estimate.reasons)
    return RiskProfile(
        tuple(reasons),
        estimate.risk if estimate else None,
        estimate.reasons if estimate else (),
    )


def _none_left(suggestions: tuple[Suggestion, ...]) -> str:
    if suggestions:
        return ""
    return (
        " Every first-line class appears contraindicated (see suppressed options): choose an "
        "agent with the patient or a specialist."
    )


def _ckd_note(facts: PatientFacts) -> str:
    if ckd_reasons(facts):
        return (
            " With CKD an ACE inhibitor (or ARB) is reasonable to slow kidney disease progression."
        )
    return ""


# --- rules ---------------------------------------------------------------------------------------


def hypertensive_crisis(facts: PatientFacts) -> Finding | None:
    sbp = facts.obs(SBP, BP_MAX_AGE)
    dbp = facts.obs(DBP, BP_MAX_AGE)
    reasons = []
    if sbp is not None and sbp.value >= 180:
        reasons.append(obs_reason(sbp, "Systolic BP", "crisis range ≥ 180"))
    if dbp is not None and dbp.value >= 120:
        reasons.append(obs_reason(dbp, "Diastolic BP", "crisis range ≥ 120"))
    if not reasons:
        return None
    return Finding(
        rule_id="bp-hypertensive-crisis",
        title="Blood pressure in the crisis range: evaluate now",
        action=(
            "Recheck BP and evaluate now for acute target-organ damage (chest pain, dyspnoea, "
            "neurological deficit, visual loss, acute kidney injury). With organ damage "
            "(hypertensive emergency) admit for intensive-care monitoring and IV therapy; without "
            "it (hypertensive urgency) reinstate or intensify oral therapy and review within days."
        ),
        category="blood_pressure",
        urgency=Urgency.URGENT,
        strength="strong",
        evidence="Class I, LOE B-NR",
        source=SOURCE_CRISIS,
        reasons=tuple(reasons),
    )


def stage2_start(facts: PatientFacts) -> Finding | None:
    bp = reading(facts)
    if bp is None or bp.crisis or not bp.stage2 or on_antihypertensive(facts) is not None:
        return None
    profile = risk_profile(facts)
    suggestions, suppressed = drug_options(facts)
    two_drugs = bp.sbp.value > TARGET_SBP + 20 or bp.dbp.value > TARGET_DBP + 10
    action = (
        "Stage 2 hypertension: confirm with out-of-office readings, start lifestyle therapy and "
    )
    if two_drugs:
        action += (
            "two first-line antihypertensives of different classes (separately or as a fixed-dose "
            f"combination), since BP {bp.text} is more than 20/10 mmHg above the 130/80 target."
        )
    else:
        action += "a first-line antihypertensive; target < 130/80."
    action += _ckd_note(facts) + _none_left(suggestions)
    return Finding(
        rule_id="bp-stage2-start-treatment",
        title="Stage 2 hypertension: start antihypertensive treatment",
        action=action,
        category="blood_pressure",
        urgency=Urgency.SOON,
        strength="strong",
        evidence=("Class I, LOE A (SBP) / C-EO (DBP)" if profile.high else "Class I, LOE C-LD")
        + ("; two agents: Class I, LOE C-EO" if two_drugs else ""),
        source=SOURCE_TREATMENT,
        reasons=(*bp.reasons, *profile.reasons),
        suppressed=suppressed,
        suggestions=(*suggestions, LIFESTYLE),
        dedupe_key="bp-drug",
        details={"two_drugs": two_drugs, "ascvd_10y": profile.risk},
    )


def _older_sbp(facts: PatientFacts, bp: Reading) -> Reason | None:
    """Table 23: from age 65 the threshold for drug treatment is a systolic BP of 130."""
    if facts.age is not None and facts.age >= 65 and bp.sbp.value >= TARGET_SBP:
        return Reason(f"Age {facts.age} (≥ 65: SBP treatment threshold 130)", value=str(facts.age))
    return None


def stage1_start(facts: PatientFacts) -> Finding | None:
    bp = reading(facts)
    if bp is None or not bp.stage1 or on_antihypertensive(facts) is not None:
        return None
    profile = risk_profile(facts)
    older = _older_sbp(facts, bp)
    markers = (*profile.reasons, *([older] if older else []))
    if not markers:
        return None
    suggestions, suppressed = drug_options(facts)
    return Finding(
        rule_id="bp-stage1-start-treatment",
        title="Stage 1 hypertension with high cardiovascular risk: start treatment",
        action=(
            f"Stage 1 hypertension ({bp.text}) with clinical ASCVD, diabetes, CKD, age ≥ 65 or a "
            "10-year ASCVD risk ≥ 10 %: confirm with out-of-office readings, start lifestyle "
            "therapy and one first-line antihypertensive; target < 130/80."
            + _ckd_note(facts)
            + _none_left(suggestions)
        ),
        category="blood_pressure",
        urgency=Urgency.ROUTINE,
        strength="strong",
        evidence=(
            "Class I, LOE A (SBP)" if bp.sbp.value >= TARGET_SBP else "Class I, LOE C-EO (DBP)"
        ),
        source=SOURCE_TREATMENT,
        reasons=(*bp.reasons, *markers),
        suppressed=suppressed,
        suggestions=(*suggestions, LIFESTYLE),
        dedupe_key="bp-drug",
        details={"ascvd_10y": profile.risk},
    )


def stage1_lifestyle(facts: PatientFacts) -> Finding | None:
    bp = reading(facts)
    if bp is None or not bp.stage1 or on_antihypertensive(facts) is not None:
        return None
    profile = risk_profile(facts)
    if profile.high or _older_sbp(facts, bp) is not None:
        return None
    action = (
        f"Stage 1 hypertension ({bp.text}) with a 10-year ASCVD risk below 10 %: "
        "nonpharmacological therapy and reassess BP in 3-6 months."
    )
    if profile.risk is None:
        action += (
            " The 10-year ASCVD risk could not be estimated (needs age 40-79 and total and HDL "
            "cholesterol from the past year): measure a lipid profile, since a risk ≥ 10 % calls "
            "for medication."
        )
    return Finding(
        rule_id="bp-stage1-lifestyle",
        title="Stage 1 hypertension: lifestyle therapy, reassess in 3-6 months",
        action=action,
        category="blood_pressure",
        urgency=Urgency.ROUTINE,
        strength="strong",
        evidence="Class I, LOE B-R (risk < 10 %); nonpharmacological therapy Class I, LOE A",
        source=SOURCE_LIFESTYLE,
        reasons=(*bp.reasons, *profile.risk_reasons),
        suggestions=(LIFESTYLE,),
        dedupe_key="bp-lifestyle",
        details={"ascvd_10y": profile.risk},
    )


def elevated_lifestyle(facts: PatientFacts) -> Finding | None:
    bp = reading(facts)
    if bp is None or not bp.elevated or on_antihypertensive(facts) is not None:
        return None
    return Finding(
        rule_id="bp-elevated-lifestyle",
        title="Elevated blood pressure: lifestyle therapy",
        action=(
            f"Elevated blood pressure ({bp.text}): nonpharmacological therapy and reassess in "
            "3-6 months."
        ),
        category="blood_pressure",
        urgency=Urgency.ROUTINE,
        strength="strong",
        evidence="Class I, LOE A",
        source=SOURCE_LIFESTYLE,
        reasons=bp.reasons,
        suggestions=(LIFESTYLE,),
        dedupe_key="bp-lifestyle",
    )


def above_target_intensify(facts: PatientFacts) -> Finding | None:
    bp = reading(facts)
    treatment = on_antihypertensive(facts)
    if bp is None or treatment is None or bp.crisis or not bp.above_target:
        return None
    profile = risk_profile(facts)
    taking = tuple(c for c in FIRST_LINE if c.taken_by(facts))
    suggestions, suppressed = drug_options(facts, skip=(*taking, ACE_INHIBITOR, ARB))
    # An ACE inhibitor and an ARB together are potentially harmful (section 8.1.6, Class III: Harm).
    for cls, other in ((ACE_INHIBITOR, ARB), (ARB, ACE_INHIBITOR)):
        if cls in taking:
            continue
        if other in taking:
            suppressed += (
                Suppression(
                    cls.name,
                    f"already taking {'an ACE inhibitor' if other is ACE_INHIBITOR else 'an ARB'}: "
                    "ACE inhibitor plus ARB is harmful (Class III: Harm)",
                ),
            )
            continue
        off = class_suppressions(facts, cls)
        if off:
            suppressed += tuple(off)
        else:
            suggestions += (cls.suggestion,)
    medications = [m for m in facts.medications if is_antihypertensive(m)]
    strength: Strength = "strong" if profile.high else "weak"
    return Finding(
        rule_id="bp-above-target-intensify",
        title="Blood pressure above target on treatment: intensify",
        action=(
            f"BP {bp.text} is above the < 130/80 target on antihypertensive treatment: check "
            "adherence and measurement technique (home readings), then intensify by raising doses "
            "or adding a first-line class not yet used."
            + (
                ""
                if suggestions
                else " No unused first-line class is available: consider a "
                "mineralocorticoid receptor antagonist or specialist referral."
            )
        ),
        category="blood_pressure",
        urgency=Urgency.SOON if bp.stage2 else Urgency.ROUTINE,
        strength=strength,
        evidence=(
            "Class I, LOE B-R (SBP) / C-EO (DBP)"
            if profile.high
            else "Class IIb, LOE B-NR (SBP) / C-EO (DBP)"
        ),
        source=SOURCE_TARGET,
        reasons=(
            *bp.reasons,
            *(
                medication_reason(m, f"On {m.name}" + (f" ({m.code})" if m.code else ""))
                for m in medications
            ),
            *profile.reasons,
        ),
        suppressed=suppressed,
        suggestions=suggestions,
        dedupe_key="bp-drug",
        details={"ascvd_10y": profile.risk},
    )


register(
    Rule(
        id="bp-hypertensive-crisis",
        title="Hypertensive crisis",
        category="blood_pressure",
        source=SOURCE_CRISIS,
        description="Systolic BP ≥ 180 or diastolic ≥ 120 in the past six months: evaluate now.",
        evaluate=hypertensive_crisis,
    )
)
register(
    Rule(
        id="bp-stage2-start-treatment",
        title="Stage 2 hypertension, untreated",
        category="blood_pressure",
        source=SOURCE_TREATMENT,
        description=(
            "BP ≥ 140/90 (below crisis) and no antihypertensive: lifestyle and a first-line drug, "
            "two classes if more than 20/10 above 130/80; contraindicated classes suppressed."
        ),
        evaluate=stage2_start,
    )
)
register(
    Rule(
        id="bp-stage1-start-treatment",
        title="Stage 1 hypertension with high cardiovascular risk, untreated",
        category="blood_pressure",
        source=SOURCE_TREATMENT,
        description=(
            "BP 130-139/80-89 with clinical ASCVD, diabetes, CKD, age ≥ 65 (systolic) or 10-year "
            "ASCVD risk ≥ 10 %, and no antihypertensive: start a first-line drug."
        ),
        evaluate=stage1_start,
    )
)
register(
    Rule(
        id="bp-stage1-lifestyle",
        title="Stage 1 hypertension at lower risk",
        category="blood_pressure",
        source=SOURCE_LIFESTYLE,
        description=(
            "BP 130-139/80-89 without high-risk markers: lifestyle therapy, reassess in 3-6 months."
        ),
        evaluate=stage1_lifestyle,
    )
)
register(
    Rule(
        id="bp-elevated-lifestyle",
        title="Elevated blood pressure",
        category="blood_pressure",
        source=SOURCE_LIFESTYLE,
        description="BP 120-129/< 80 untreated: lifestyle therapy, reassess in 3-6 months.",
        evaluate=elevated_lifestyle,
    )
)
register(
    Rule(
        id="bp-above-target-intensify",
        title="Treated blood pressure above 130/80",
        category="blood_pressure",
        source=SOURCE_TARGET,
        description=(
            "On antihypertensives (ATC C02, C03, C07, C08, C09) with BP ≥ 130/80 (below crisis): "
            "intensify, offering unused first-line classes."
        ),
        evaluate=above_target_intensify,
    )
)
