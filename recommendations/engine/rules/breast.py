"""Breast rules: the malignancy-risk referral pathway, BRCA carriers, adjuvant endocrine therapy.

- A high (or moderate) cytology malignancy risk from the breast model goes to the suspected breast
  cancer pathway (NICE NG12); once breast cancer is coded the patient is in the cancer pathway.
- BRCA1/2 pathogenic variant carriers without breast cancer: high-risk clinic and genetic
  counselling, with annual breast MRI from 25 for women (NCCN, BRCA-A).
- Hormone-receptor-positive breast cancer without endocrine therapy: tamoxifen or an aromatase
  inhibitor (ASCO 2019 focused update), with the GBSG2 benefit estimate when one is available.
"""

import datetime as dt

from recommendations.engine import register
from recommendations.engine.facts import AllergyFact, PatientFacts, RiskFact
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

ATC_SYSTEM = "http://www.whocc.no/atc"
BREAST_CANCER = ("C50",)
IN_SITU = ("D05",)
# Receptor content by ligand-binding assay (GBSG2 era): >= 10 fmol/mg protein is receptor-positive.
ESTROGEN_RECEPTOR, PROGESTERONE_RECEPTOR = "14130-9", "14230-7"
RECEPTOR_POSITIVE_FMOL_MG = 10.0
RISK_MAX_AGE_DAYS = 365

# --- 1. Malignancy risk of a breast mass ------------------------------------------------------

REFERRAL_SOURCE = Source(
    guideline="NICE guideline NG12: Suspected cancer: recognition and referral",
    year=2015,
    section="1.4 Breast cancer (suspected cancer pathway referral, 1.4.1-1.4.3)",
    url="https://www.nice.org.uk/guidance/ng12",
)


def _risk_reason(risk: RiskFact) -> Reason:
    synthetic = " (synthetic record: illustrative)" if risk.synthetic else ""
    return Reason(
        text=(
            f"{risk.title}: malignancy probability {risk.probability:.0%} ({risk.band} band) by "
            f"model {risk.model} on {risk.at}{synthetic}"
        ),
        code=risk.disease,
        value=f"{risk.probability:.0%}",
        at=risk.at,
    )


def breast_mass_high_malignancy_risk(facts: PatientFacts) -> Finding | None:
    risk = facts.risks.get("breast_cancer")
    if risk is None or (facts.today - risk.at).days > RISK_MAX_AGE_DAYS:
        return None
    if facts.condition(*BREAST_CANCER, *IN_SITU) is not None:
        return None  # already diagnosed: in the cancer pathway
    high = risk.band == "high" or risk.probability >= 0.5
    if not high and risk.band != "moderate":
        return None
    reasons = [_risk_reason(risk)]
    if high:
        title = "Urgent breast assessment: high malignancy risk"
        action = (
            "Refer on the suspected breast cancer pathway (seen within 2 weeks) for triple "
            "assessment: clinical examination, imaging (mammography and/or ultrasound) and "
            "image-guided core-needle biopsy. A cytology risk is not a diagnosis: histology is "
            "needed."
        )
        urgency, evidence = Urgency.URGENT, "NICE recommendation: refer"
        strength: Strength = "strong"
        label = "Refer to breast clinic (suspected cancer pathway, 2 weeks)"
    else:
        title = "Breast specialist review: intermediate malignancy risk"
        action = (
            "Arrange breast specialist review of the mass (non-urgent referral, or urgent if other "
            "suspicious features), with imaging and short-interval follow-up or biopsy as advised."
        )
        urgency, evidence = Urgency.SOON, "NICE recommendation: consider referral"
        strength = "weak"
        label = "Refer to breast clinic"
    if risk.synthetic:
        action += " The risk comes from a synthetic (demo) record: illustrative only."
    return Finding(
        rule_id="breast-mass-high-malignancy-risk",
        title=title,
        action=action,
        category="breast",
        urgency=urgency,
        strength=strength,
        evidence=evidence,
        source=REFERRAL_SOURCE,
        reasons=tuple(reasons),
        suggestions=(Suggestion(label=label, kind="referral"),),
        dedupe_key="breast-referral",
        illustrative=risk.synthetic,
        illustrative_note=(
            "Based on a synthetic (demo) record: illustrative, not for clinical use."
            if risk.synthetic
            else ""
        ),
        details={"probability": risk.probability, "band": risk.band, "model": risk.model},
    )


register(
    Rule(
        id="breast-mass-high-malignancy-risk",
        title="Breast mass with high malignancy risk: diagnostic pathway",
        category="breast",
        source=REFERRAL_SOURCE,
        description=(
            "The latest breast-mass cytology risk is high (>= 50 %): refer for triple assessment "
            "and core-needle biopsy within 2 weeks; moderate: specialist review. Not once breast "
            "cancer is diagnosed."
        ),
        evaluate=breast_mass_high_malignancy_risk,
    )
)

# --- 2. BRCA1/2 carriers ----------------------------------------------------------------------

BRCA_SOURCE = Source(
    guideline=(
        "NCCN Clinical Practice Guidelines in Oncology: Genetic/Familial High-Risk Assessment: "
        "Breast, Ovarian, and Pancreatic"
    ),
    year=2024,
    section="BRCA-A (BRCA1/2 pathogenic/likely pathogenic variant-positive management)",
    url="https://www.nccn.org/guidelines/guidelines-detail?id=1503",
)
PATHOGENIC = {"pathogenic", "likely_pathogenic"}


def _interpretation(text: str) -> str:
    return text.strip().lower().replace("-", "_").replace(" ", "_")


def breast_brca_genetics_referral(facts: PatientFacts) -> Finding | None:
    carriers = [
        g
        for g in facts.genetics
        if g.gene.upper() in {"BRCA1", "BRCA2"} and _interpretation(g.interpretation) in PATHOGENIC
    ]
    if not carriers or facts.condition(*BREAST_CANCER) is not None:
        return None
    reasons = [
        Reason(
            text=f"{g.gene.upper()} {g.variant}: {g.interpretation.replace('_', ' ')}",
            code=g.gene.upper(),
            value=g.variant,
        )
        for g in carriers
    ]
    genes = " and ".join(sorted({g.gene.upper() for g in carriers}))
    suggestions = [
        Suggestion(label="Refer to genetic counselling / high-risk breast clinic", kind="referral")
    ]
    if facts.sex == "female":
        action = (
            f"{genes} carrier: refer to a high-risk clinic and genetic counselling. Breast "
            "screening: annual MRI from age 25 (25-29), annual mammography plus MRI from 30 to 75; "
            "discuss risk-reducing mastectomy and salpingo-oophorectomy (BRCA1 35-40, BRCA2 40-45)."
        )
        if facts.age is not None and facts.age < 25:
            action += f" Now {facts.age}: breast awareness; MRI screening starts at 25."
        suggestions.append(Suggestion(label="Annual breast MRI", kind="order"))
    else:
        action = (
            f"{genes} carrier: refer to genetic counselling (cascade testing of relatives). The "
            "breast MRI programme applies to women; for men: breast self-examination and annual "
            "clinical breast examination from 35, prostate cancer screening from 40."
        )
    if facts.age is not None:
        reasons.append(Reason(text=f"Age {facts.age} years", value=str(facts.age), at=facts.today))
    reasons.append(Reason(text="No breast cancer (C50) recorded", at=facts.today))
    return Finding(
        rule_id="breast-brca-genetics-referral",
        title=f"{genes} carrier: high-risk clinic and genetic counselling",
        action=action,
        category="breast",
        urgency=Urgency.SOON,
        strength="moderate",
        evidence="NCCN Category 2A",
        source=BRCA_SOURCE,
        reasons=tuple(reasons),
        suggestions=tuple(suggestions),
        details={"genes": sorted({g.gene.upper() for g in carriers}), "sex": facts.sex},
    )


register(
    Rule(
        id="breast-brca-genetics-referral",
        title="BRCA1/2 carrier: high-risk clinic, genetic counselling, MRI screening",
        category="breast",
        source=BRCA_SOURCE,
        description=(
            "A pathogenic or likely pathogenic BRCA1/BRCA2 variant without breast cancer: refer "
            "to genetic counselling / a high-risk clinic; women: annual breast MRI from 25."
        ),
        evaluate=breast_brca_genetics_referral,
    )
)

# --- 3. Adjuvant endocrine therapy ------------------------------------------------------------

ENDOCRINE_SOURCE = Source(
    guideline=(
        "Adjuvant Endocrine Therapy for Women With Hormone Receptor-Positive Breast Cancer: ASCO "
        "Clinical Practice Guideline Focused Update (Burstein et al., J Clin Oncol 2019;37:423-438)"
    ),
    year=2019,
    section="Recommendations (adjuvant endocrine therapy for hormone receptor-positive disease)",
    url="https://doi.org/10.1200/JCO.18.01160",
)
ENDOCRINE_ATC = ("L02BA", "L02BG")
ENDOCRINE_NAMES = ("tamoxifen", "anastrozole", "letrozole", "exemestane", "toremifene")
VTE = ("I26", "I80", "I81", "I82")
ENDOMETRIAL_CANCER = ("C54",)
PREGNANCY = ("Z33", "Z34", "O0", "O1", "O2", "O3", "O4")  # pregnant (not delivery/puerperium)
MENOPAUSE = ("N95.1", "Z78.0")
OVARIAN_SUPPRESSION_ATC = ("L02AE",)  # GnRH agonists (goserelin, leuprorelin, triptorelin)
OOPHORECTOMY = ("Z90.72",)
TAMOXIFEN = ("Tamoxifen", "L02BA01")
AROMATASE_INHIBITORS = (
    ("Anastrozole", "L02BG03"),
    ("Letrozole", "L02BG04"),
    ("Exemestane", "L02BG06"),
)


def _allergy_to(facts: PatientFacts, name: str, atc: str) -> AllergyFact | None:
    """A recorded allergy to the drug (ATC or name) or to its class (an ATC group code)."""
    direct = facts.allergy(atc, names=(name,))
    if direct is not None:
        return direct
    for allergy in facts.allergies:
        if len(allergy.code) >= 5 and atc.upper().startswith(allergy.code.upper()):
            return allergy
    return None


def _dated(at: dt.date | None) -> str:
    return f" on {at}" if at else ""


def menopausal_status(facts: PatientFacts) -> tuple[str, str]:
    """("postmenopausal" | "premenopausal" | "unknown", the basis in words).

    A recorded menopause (N95.1 / Z78.0) or bilateral oophorectomy counts; otherwise age >= 50 is
    taken as postmenopausal and < 50 as premenopausal (a proxy: no hormone levels are used)."""
    menopause = facts.condition(*MENOPAUSE, *OOPHORECTOMY)
    if menopause is not None:
        return "postmenopausal", f"{menopause.display} ({menopause.code}) recorded"
    if facts.age is None:
        return "unknown", "no menopause recorded and age unknown"
    if facts.age >= 50:
        return "postmenopausal", f"age {facts.age} (>= 50), no menopause recorded (age proxy)"
    return "premenopausal", f"age {facts.age} (< 50) and no menopause (N95.1/Z78.0) recorded"


def _receptor_reasons(facts: PatientFacts) -> tuple[list[Reason], bool]:
    reasons: list[Reason] = []
    positive = False
    for code, label in ((ESTROGEN_RECEPTOR, "Estrogen"), (PROGESTERONE_RECEPTOR, "Progesterone")):
        fact = facts.obs(code)
        if fact is None:
            continue
        is_positive = fact.value >= RECEPTOR_POSITIVE_FMOL_MG
        positive = positive or is_positive
        status = "positive" if is_positive else "negative"
        reasons.append(
            Reason(
                text=(
                    f"{label} receptor {fact.value:g} fmol/mg on {fact.at} ({status}; cutoff "
                    f"{RECEPTOR_POSITIVE_FMOL_MG:g} fmol/mg, ligand-binding assay)"
                ),
                code=code,
                value=f"{fact.value:g} fmol/mg",
                at=fact.at,
            )
        )
    return reasons, positive


def breast_adjuvant_endocrine_therapy(facts: PatientFacts) -> Finding | None:
    if facts.sex != "female":
        return None
    cancer = facts.condition(*BREAST_CANCER)
    if cancer is None:
        return None
    if facts.medication(*ENDOCRINE_ATC, names=ENDOCRINE_NAMES) is not None:
        return None
    receptor_reasons, positive = _receptor_reasons(facts)
    if not positive:
        return None  # receptor-negative, or receptor status not recorded: no guess

    suppressed: list[Suppression] = []
    available: list[tuple[str, str]] = []

    tamoxifen_why: list[str] = []
    vte = facts.condition(*VTE)
    if vte is not None:
        tamoxifen_why.append(
            f"venous thromboembolism history: {vte.display} ({vte.code}){_dated(vte.onset)}"
        )
    endometrial = facts.condition(*ENDOMETRIAL_CANCER)
    if endometrial is not None:
        tamoxifen_why.append(
            f"endometrial cancer: {endometrial.display} ({endometrial.code})"
            f"{_dated(endometrial.onset)}"
        )
    pregnancy = facts.condition(*PREGNANCY)
    if pregnancy is not None:
        tamoxifen_why.append(f"pregnancy: {pregnancy.display} ({pregnancy.code})")
    allergy = _allergy_to(facts, *TAMOXIFEN)
    if allergy is not None:
        tamoxifen_why.append(f"recorded allergy to {allergy.substance}")
    if tamoxifen_why:
        suppressed.append(Suppression(option=TAMOXIFEN[0], reason="; ".join(tamoxifen_why)))
    else:
        available.append(TAMOXIFEN)

    status, basis = menopausal_status(facts)
    suppression = facts.medication(*OVARIAN_SUPPRESSION_ATC)
    ai_class_why: list[str] = []
    if status != "postmenopausal" and suppression is None:
        ai_class_why.append(
            f"{status} ({basis}) without ovarian suppression: an aromatase inhibitor alone is "
            "ineffective before menopause"
        )
    if pregnancy is not None:
        ai_class_why.append(f"pregnancy: {pregnancy.display} ({pregnancy.code})")
    for name, atc in AROMATASE_INHIBITORS:
        why = list(ai_class_why)
        allergy = _allergy_to(facts, name, atc)
        if allergy is not None:
            why.append(f"recorded allergy to {allergy.substance}")
        if why:
            suppressed.append(Suppression(option=name, reason="; ".join(why)))
        else:
            available.append((name, atc))

    reasons = [
        Reason(
            text=f"Breast cancer: {cancer.display} ({cancer.code})",
            code=cancer.code,
            value=cancer.code,
            at=cancer.onset,
        ),
        *receptor_reasons,
        Reason(text=f"Menopausal status: {status} ({basis})", value=status, at=facts.today),
        Reason(text="No tamoxifen or aromatase inhibitor recorded", at=facts.today),
    ]
    if suppression is not None:
        reasons.append(
            Reason(
                text=f"Ovarian suppression: {suppression.name}",
                code=suppression.code,
                value=suppression.name,
                at=suppression.since,
            )
        )

    details: dict[str, object] = {"menopausal_status": status, "menopausal_basis": basis}
    benefit = facts.benefit
    if benefit is not None:
        details.update(
            {
                "horizon_years": benefit.horizon_years,
                "rfs_with": benefit.rfs_with,
                "rfs_without": benefit.rfs_without,
                "rfs_difference": benefit.difference,
                "rfs_with_ci": list(benefit.ci_with),
                "rfs_without_ci": list(benefit.ci_without),
                "rfs_difference_ci": list(benefit.ci_difference),
                "benefit_model": benefit.model,
                "benefit_cohort": benefit.cohort,
                "benefit_summary": (
                    f"Estimated {benefit.horizon_years:g}-year recurrence-free survival for "
                    f"patients like this one: {benefit.rfs_with:.0%} with vs "
                    f"{benefit.rfs_without:.0%} without hormonal therapy (difference "
                    f"{benefit.difference * 100:+.1f} points, 95% CI "
                    f"{benefit.ci_difference[0] * 100:+.1f} to "
                    f"{benefit.ci_difference[1] * 100:+.1f}; {benefit.cohort})."
                ),
            }
        )

    if available:
        names = ", ".join(name.lower() for name, _ in available)
        choice = (
            "an aromatase inhibitor (or tamoxifen)"
            if status == "postmenopausal"
            else "tamoxifen (or ovarian suppression with an aromatase inhibitor if higher risk)"
        )
        action = (
            "Consider adjuvant endocrine therapy for hormone receptor-positive breast cancer "
            f"(5 years, extended to 10 if higher risk): {choice}. Options here: {names}."
        )
        suggestions: tuple[Suggestion, ...] = tuple(
            Suggestion(
                label=f"Start {name.lower()}",
                kind="medication",
                system=ATC_SYSTEM,
                code=atc,
                display=name.lower(),
            )
            for name, atc in available
        )
    else:
        action = (
            "Adjuvant endocrine therapy is indicated for hormone receptor-positive breast cancer, "
            "but every option is contraindicated for this patient (see suppressed): refer to "
            "oncology (e.g. ovarian suppression, timing after pregnancy)."
        )
        suggestions = (Suggestion(label="Refer to breast oncology", kind="referral"),)

    return Finding(
        rule_id="breast-adjuvant-endocrine-therapy",
        title="Consider adjuvant endocrine therapy (hormone receptor-positive)",
        action=action,
        category="breast",
        urgency=Urgency.SOON,
        strength="strong",
        evidence="ASCO: evidence quality high, strength of recommendation strong",
        source=ENDOCRINE_SOURCE,
        reasons=tuple(reasons),
        suppressed=tuple(suppressed),
        suggestions=suggestions,
        dedupe_key="endocrine-therapy",
        benefit=benefit,
        details=details,
    )


register(
    Rule(
        id="breast-adjuvant-endocrine-therapy",
        title="Adjuvant endocrine therapy for hormone receptor-positive breast cancer",
        category="breast",
        source=ENDOCRINE_SOURCE,
        description=(
            "A woman with breast cancer, estrogen or progesterone receptor >= 10 fmol/mg, on no "
            "tamoxifen or aromatase inhibitor: consider adjuvant endocrine therapy; checks "
            "thromboembolism, endometrial cancer, pregnancy, menopausal status and allergies."
        ),
        evaluate=breast_adjuvant_endocrine_therapy,
    )
)
