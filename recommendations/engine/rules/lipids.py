"""Statin rules of the 2018 AHA/ACC cholesterol guideline, one per statin-benefit group: clinical
ASCVD, LDL-C >= 190 mg/dL, diabetes aged 40-75, primary prevention by 10-year ASCVD risk (Pooled
Cohort Equations), and borderline risk. They all say "start a statin", so they share the dedupe
key "statin": the engine keeps the strongest and merges the others' reasons into it.

Source: Grundy SM, et al. 2018 AHA/ACC/AACVPR/AAPA/ABC/ACPM/ADA/AGS/APhA/ASPC/NLA/PCNA Guideline on
the Management of Blood Cholesterol. Circulation 2019;139:e1082-e1143.
"""

from recommendations.engine import register
from recommendations.engine.facts import ObservationFact, PatientFacts
from recommendations.engine.rules.cardiometabolic import (
    ALT,
    CRP,
    DIABETES,
    LAB_MAX_AGE,
    PREGNANCY,
    STATIN_NAMES,
    STATINS,
    TRIGLYCERIDES,
    AscvdRisk,
    allergy_suppression,
    ascvd_reasons,
    ascvd_risk,
    ckd_reasons,
    condition_reason,
    day,
    drug,
    ldl,
    obs_reason,
    on_statin,
    value_text,
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

GUIDELINE = "2018 AHA/ACC Guideline on the Management of Blood Cholesterol"
URL = "https://doi.org/10.1161/CIR.0000000000000625"
SOURCE_SECONDARY = Source(GUIDELINE, 2018, "4.1 (Secondary ASCVD Prevention)", URL)
SOURCE_SEVERE = Source(GUIDELINE, 2018, "4.2 (Severe Hypercholesterolemia, LDL-C ≥ 190 mg/dL)", URL)
SOURCE_DIABETES = Source(GUIDELINE, 2018, "4.3 (Diabetes Mellitus in Adults)", URL)
SOURCE_PRIMARY = Source(GUIDELINE, 2018, "4.4 (Primary Prevention), Figure 3; Table 6", URL)

ACTIVE_LIVER_DISEASE = ("K70", "K71", "K72", "K73", "K74", "K75", "K76", "K77")
# Fatty liver disease is no reason to withhold a statin (statins are safe and often indicated).
NOT_A_CONTRAINDICATION = ("K76.0",)
ALT_LIMIT = 120.0  # U/L: three times an upper limit of normal of 40

HIGH_INTENSITY = (
    drug("Atorvastatin 40-80 mg daily (high intensity)", "C10AA05", "atorvastatin"),
    drug("Rosuvastatin 20-40 mg daily (high intensity)", "C10AA07", "rosuvastatin"),
)
MODERATE_INTENSITY = (
    drug("Atorvastatin 10-20 mg daily (moderate intensity)", "C10AA05", "atorvastatin"),
    drug("Rosuvastatin 5-10 mg daily (moderate intensity)", "C10AA07", "rosuvastatin"),
    drug("Simvastatin 20-40 mg daily (moderate intensity)", "C10AA01", "simvastatin"),
)


def statin_suppressions(facts: PatientFacts) -> tuple[Suppression, ...]:
    option = "Statin"
    out: list[Suppression] = []
    allergy = allergy_suppression(
        facts, option, *STATINS, names=(*STATIN_NAMES, "statins", "hmg-coa")
    )
    if allergy is not None:
        out.append(allergy)
    liver = next(
        (
            c
            for c in facts.conditions
            if c.code.upper().startswith(ACTIVE_LIVER_DISEASE)
            and not c.code.upper().startswith(NOT_A_CONTRAINDICATION)
        ),
        None,
    )
    if liver is not None:
        out.append(
            Suppression(option, f"liver disease recorded ({liver.code}): contraindicated if active")
        )
    alt = facts.obs(ALT, LAB_MAX_AGE)
    if alt is not None and alt.value > ALT_LIMIT:
        out.append(
            Suppression(
                option,
                f"ALT {value_text(alt)} on {day(alt.at)}: above 3 times the upper limit of normal",
            )
        )
    pregnant = facts.condition(*PREGNANCY)
    if pregnant is not None:
        out.append(
            Suppression(option, f"pregnancy recorded ({pregnant.code}): statins are not used")
        )
    return tuple(out)


def statin_finding(
    facts: PatientFacts,
    *,
    rule_id: str,
    title: str,
    action: str,
    high_intensity: bool,
    urgency: Urgency,
    strength: Strength,
    evidence: str,
    source: Source,
    reasons: tuple[Reason, ...],
    estimate: AscvdRisk | None = None,
) -> Finding:
    """A statin finding with the contraindication check every statin rule shares."""
    suppressed = statin_suppressions(facts)
    suggestions: tuple[Suggestion, ...] = HIGH_INTENSITY if high_intensity else MODERATE_INTENSITY
    if suppressed:
        suggestions = ()
        action += (
            " A statin appears contraindicated (see suppressed options): review, and consider "
            "non-statin therapy (e.g. ezetimibe) with the patient."
        )
    lipid = ldl(facts)
    if lipid is not None and not any(r.code == lipid.code for r in reasons):
        reasons += (obs_reason(lipid, "LDL cholesterol"),)
    return Finding(
        rule_id=rule_id,
        title=title,
        action=action,
        category="lipids",
        urgency=urgency,
        strength=strength,
        evidence=evidence,
        source=source,
        reasons=reasons,
        suppressed=suppressed,
        suggestions=suggestions,
        dedupe_key="statin",
        details={
            "intensity": "high" if high_intensity else "moderate",
            **({"ascvd_10y": estimate.risk} if estimate else {}),
        },
    )


def _ldl_between(fact: ObservationFact | None, low: float, high: float) -> bool:
    return fact is not None and low <= fact.value < high


# --- rules ---------------------------------------------------------------------------------------


def secondary_prevention(facts: PatientFacts) -> Finding | None:
    ascvd = ascvd_reasons(facts)
    if not ascvd or on_statin(facts) is not None:
        return None
    older = facts.age is not None and facts.age > 75
    if older:
        action = (
            "Clinical ASCVD, age over 75: after weighing benefit, adverse effects, drug "
            "interactions and patient preference, a moderate- or high-intensity statin is "
            "reasonable."
        )
        strength: Strength = "moderate"
        evidence = "Class IIa, LOE B-R"
    else:
        action = (
            "Clinical ASCVD: start a high-intensity statin to lower LDL-C by ≥ 50 % (moderate "
            "intensity if high intensity is not tolerated)."
        )
        strength, evidence = "strong", "Class I, LOE A"
    reasons = tuple(ascvd)
    if older:
        reasons += (Reason(f"Age {facts.age} (over 75)", value=str(facts.age)),)
    return statin_finding(
        facts,
        rule_id="statin-secondary-prevention",
        title="Clinical ASCVD: start a high-intensity statin",
        action=action,
        high_intensity=True,
        urgency=Urgency.SOON,
        strength=strength,
        evidence=evidence,
        source=SOURCE_SECONDARY,
        reasons=reasons,
    )


def severe_hypercholesterolaemia(facts: PatientFacts) -> Finding | None:
    lipid = ldl(facts)
    if lipid is None or lipid.value < 190 or on_statin(facts) is not None:
        return None
    if facts.age is None or not 20 <= facts.age <= 75:
        return None
    return statin_finding(
        facts,
        rule_id="statin-severe-hypercholesterolaemia",
        title="LDL cholesterol ≥ 190 mg/dL: start a high-intensity statin",
        action=(
            "Severe primary hypercholesterolaemia: start a high-intensity statin without "
            "calculating 10-year risk; consider secondary causes and familial "
            "hypercholesterolaemia."
        ),
        high_intensity=True,
        urgency=Urgency.ROUTINE,
        strength="strong",
        evidence="Class I, LOE B-R",
        source=SOURCE_SEVERE,
        reasons=(obs_reason(lipid, "LDL cholesterol", "≥ 190 mg/dL"),),
    )


def diabetes_statin(facts: PatientFacts) -> Finding | None:
    diabetes = facts.condition(*DIABETES)
    if diabetes is None or on_statin(facts) is not None:
        return None
    if facts.age is None or not 40 <= facts.age <= 75:
        return None
    lipid = ldl(facts)
    if lipid is not None and lipid.value < 70:
        return None
    estimate = ascvd_risk(facts)
    high = estimate is not None and estimate.risk >= 0.20
    reasons: tuple[Reason, ...] = (
        condition_reason(diabetes, "Diabetes"),
        Reason(f"Age {facts.age} (40-75)", value=str(facts.age)),
    )
    if estimate is not None:
        reasons += estimate.reasons
    if high:
        action = (
            "Diabetes aged 40-75 with a 10-year ASCVD risk ≥ 20 %: a high-intensity statin to "
            "lower LDL-C by ≥ 50 % is reasonable."
        )
    else:
        action = (
            "Diabetes aged 40-75: start a moderate-intensity statin, regardless of 10-year risk."
        )
    if lipid is None:
        action += " No LDL cholesterol in the past year: measure a lipid profile as a baseline."
    return statin_finding(
        facts,
        rule_id="statin-diabetes",
        title="Diabetes aged 40-75: start a statin",
        action=action,
        high_intensity=high,
        urgency=Urgency.ROUTINE,
        strength="strong",
        evidence="Class I, LOE A" + ("; high intensity Class IIa, LOE B-R" if high else ""),
        source=SOURCE_DIABETES,
        reasons=reasons,
        estimate=estimate,
    )


def _primary_prevention_candidate(facts: PatientFacts) -> tuple[ObservationFact, AscvdRisk] | None:
    """Age 40-75, no clinical ASCVD or diabetes, LDL-C 70-189 mg/dL, not on a statin, with a
    10-year risk from the Pooled Cohort Equations."""
    if facts.age is None or not 40 <= facts.age <= 75:
        return None
    if ascvd_reasons(facts) or facts.condition(*DIABETES) is not None or on_statin(facts):
        return None
    lipid = ldl(facts)
    if lipid is None or not _ldl_between(lipid, 70, 190):
        return None
    estimate = ascvd_risk(facts)
    if estimate is None:
        return None
    return lipid, estimate


def primary_prevention(facts: PatientFacts) -> Finding | None:
    candidate = _primary_prevention_candidate(facts)
    if candidate is None or candidate[1].risk < 0.075:
        return None
    lipid, estimate = candidate
    high = estimate.risk >= 0.20
    if high:
        action = (
            f"10-year ASCVD risk {estimate.percent} (high, ≥ 20 %): start a high-intensity statin "
            "to lower LDL-C by ≥ 50 %."
        )
    else:
        action = (
            f"10-year ASCVD risk {estimate.percent} (intermediate, 7.5-20 %): after a "
            "clinician-patient risk discussion, including risk-enhancing factors, start a "
            "moderate-intensity statin (LDL-C reduction 30-49 %); a coronary artery calcium "
            "score can help if the decision is uncertain."
        )
    return statin_finding(
        facts,
        rule_id="statin-primary-prevention",
        title="10-year ASCVD risk ≥ 7.5 %: start a statin",
        action=action,
        high_intensity=high,
        urgency=Urgency.ROUTINE,
        strength="strong",
        evidence="Class I, LOE A",
        source=SOURCE_PRIMARY,
        reasons=(*estimate.reasons, obs_reason(lipid, "LDL cholesterol", "70-189 mg/dL")),
        estimate=estimate,
    )


def risk_enhancers(facts: PatientFacts) -> list[Reason]:
    """The risk-enhancing factors of Table 6 that the record can show."""
    found: list[Reason] = []
    lipid = ldl(facts)
    if lipid is not None and lipid.value >= 160:
        found.append(obs_reason(lipid, "Risk enhancer: LDL cholesterol", "≥ 160 mg/dL"))
    found.extend(
        Reason(f"Risk enhancer: {r.text}", r.code, r.value, r.at) for r in ckd_reasons(facts)
    )
    triglycerides = facts.obs(TRIGLYCERIDES, LAB_MAX_AGE)
    if triglycerides is not None and triglycerides.value >= 175:
        found.append(obs_reason(triglycerides, "Risk enhancer: triglycerides", "≥ 175 mg/dL"))
    crp = facts.obs(CRP, LAB_MAX_AGE)
    if crp is not None and crp.value >= 2:
        found.append(obs_reason(crp, "Risk enhancer: C-reactive protein", "≥ 2 mg/L"))
    return found


def borderline_risk(facts: PatientFacts) -> Finding | None:
    candidate = _primary_prevention_candidate(facts)
    if candidate is None or not 0.05 <= candidate[1].risk < 0.075:
        return None
    lipid, estimate = candidate
    enhancers = risk_enhancers(facts)
    action = (
        f"10-year ASCVD risk {estimate.percent} (borderline, 5-7.5 %): discuss risk-enhancing "
        "factors (family history of premature ASCVD, metabolic syndrome, CKD, inflammatory "
        "disease, persistently raised triglycerides, hs-CRP, Lp(a), ApoB, ankle-brachial "
        "index); if present, a moderate-intensity statin may be justified."
    )
    if enhancers:
        action += f" The record shows {len(enhancers)} of them (see reasons)."
    return statin_finding(
        facts,
        rule_id="statin-borderline-risk",
        title="Borderline 10-year ASCVD risk: discuss risk enhancers",
        action=action,
        high_intensity=False,
        urgency=Urgency.ROUTINE,
        strength="weak",
        evidence="Class IIb, LOE B-R",
        source=SOURCE_PRIMARY,
        reasons=(*estimate.reasons, obs_reason(lipid, "LDL cholesterol"), *enhancers),
        estimate=estimate,
    )


register(
    Rule(
        id="statin-secondary-prevention",
        title="Clinical ASCVD without a statin",
        category="lipids",
        source=SOURCE_SECONDARY,
        description=(
            "Coronary heart disease, ischaemic stroke, TIA or peripheral arterial disease, not on "
            "a statin: high-intensity statin (age > 75: moderate or high, Class IIa)."
        ),
        evaluate=secondary_prevention,
    )
)
register(
    Rule(
        id="statin-severe-hypercholesterolaemia",
        title="LDL cholesterol ≥ 190 mg/dL without a statin",
        category="lipids",
        source=SOURCE_SEVERE,
        description="Age 20-75 with LDL-C ≥ 190 mg/dL in the past year: high-intensity statin.",
        evaluate=severe_hypercholesterolaemia,
    )
)
register(
    Rule(
        id="statin-diabetes",
        title="Diabetes aged 40-75 without a statin",
        category="lipids",
        source=SOURCE_DIABETES,
        description=(
            "Diabetes, age 40-75, LDL-C ≥ 70 mg/dL or not measured: moderate-intensity statin "
            "(high intensity at 10-year risk ≥ 20 %)."
        ),
        evaluate=diabetes_statin,
    )
)
register(
    Rule(
        id="statin-primary-prevention",
        title="Primary prevention by 10-year ASCVD risk",
        category="lipids",
        source=SOURCE_PRIMARY,
        description=(
            "Age 40-75, no ASCVD or diabetes, LDL-C 70-189 mg/dL, Pooled Cohort Equations risk "
            "≥ 7.5 %: moderate-intensity statin (high intensity at ≥ 20 %)."
        ),
        evaluate=primary_prevention,
    )
)
register(
    Rule(
        id="statin-borderline-risk",
        title="Borderline 10-year ASCVD risk",
        category="lipids",
        source=SOURCE_PRIMARY,
        description=(
            "As primary prevention but with a risk of 5-7.5 %: discuss risk-enhancing factors; a "
            "moderate-intensity statin may be justified."
        ),
        evaluate=borderline_risk,
    )
)
