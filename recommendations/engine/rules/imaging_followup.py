"""Follow-up of AI imaging findings: pulmonary nodules (Fleischner 2017) and opacities (BTS).

Only finished studies from the last year count, and only the newest study per finding type. While
the imaging model is the demo model trained on synthetic images every finding is illustrative and
labelled so; a study without a signed radiologist report says the report is pending.
"""

import math

from recommendations.engine import register
from recommendations.engine.facts import ImagingFact, PatientFacts
from recommendations.engine.types import (
    Finding,
    Reason,
    Rule,
    Source,
    Strength,
    Suggestion,
    Urgency,
)

STUDY_MAX_AGE_DAYS = 365
ABNORMAL_THRESHOLD = 0.5
ILLUSTRATIVE_NOTE = (
    "Based on the demo imaging model trained on synthetic images: "
    "illustrative, not for clinical use."
)

NODULE_SOURCE = Source(
    guideline=(
        "Guidelines for Management of Incidental Pulmonary Nodules Detected on CT Images: From the "
        "Fleischner Society 2017 (MacMahon et al., Radiology 2017;284:228-243)"
    ),
    year=2017,
    section="Table 1: solid nodules, single (by size and patient risk)",
    url="https://doi.org/10.1148/radiol.2017161659",
)
OPACITY_SOURCE = Source(
    guideline=(
        "BTS Guidelines for the Management of Community Acquired Pneumonia in Adults: Update 2009 "
        "(Lim et al., Thorax 2009;64 Suppl 3:iii1-iii55)"
    ),
    year=2009,
    section="Follow-up: repeat chest radiograph at about 6 weeks",
    url="https://doi.org/10.1136/thx.2009.121434",
)


def newest_study(facts: PatientFacts, predicted_class: str) -> ImagingFact | None:
    """The newest study from the last year predicted `predicted_class` (only that one counts)."""
    recent = [
        s
        for s in facts.imaging
        if s.predicted_class == predicted_class
        and 0 <= (facts.today - s.at).days <= STUDY_MAX_AGE_DAYS
    ]
    return max(recent, key=lambda s: s.at) if recent else None


def equivalent_diameter_mm(area_mm2: float) -> float:
    """The diameter of the circle with the lesion's area."""
    return 2 * math.sqrt(area_mm2 / math.pi)


def _study_reason(study: ImagingFact) -> Reason:
    return Reason(
        text=(
            f"AI finding: {study.predicted_class} (abnormal probability "
            f"{study.abnormal_probability:.0%}) on {study.modality} {study.body_part.lower()} "
            f"study of {study.at}, model {study.model}"
        ),
        code=study.model,
        value=f"{study.abnormal_probability:.0%}",
        at=study.at,
    )


def _labelled(study: ImagingFact, title: str, reasons: list[Reason]) -> str:
    if not study.report_signed:
        reasons.append(Reason(text="Radiologist report pending", at=study.at))
        return f"{title} (pending radiologist report)"
    return title


def imaging_nodule_followup(facts: PatientFacts) -> Finding | None:
    study = newest_study(facts, "nodule")
    if study is None or study.abnormal_probability < ABNORMAL_THRESHOLD:
        return None
    reasons = [_study_reason(study)]
    high_risk = facts.smoking in {"current", "former"}
    risk_word = "high-risk" if high_risk else "low-risk"
    if facts.smoking in {"current", "former", "never"}:
        reasons.append(
            Reason(
                text=f"Smoking: {facts.smoking} ({risk_word} for Fleischner)",
                value=facts.smoking or "",
                at=facts.smoking_at,
            )
        )
    else:
        reasons.append(Reason(text="Smoking status not recorded: low-risk row assumed"))

    diameter = None
    urgency = Urgency.ROUTINE
    strength: Strength = "weak"
    if study.lesion_area_mm2 is None:
        action = "Nodule size not measured: measure it on CT, then follow Fleischner 2017 by size."
        size = "unknown"
    else:
        diameter = round(equivalent_diameter_mm(study.lesion_area_mm2), 1)
        reasons.append(
            Reason(
                text=(
                    f"Nodule about {diameter:g} mm (equivalent diameter of lesion area "
                    f"{study.lesion_area_mm2:g} mm2)"
                ),
                value=f"{diameter:g} mm",
                at=study.at,
            )
        )
        if diameter < 6:
            size = "< 6 mm"
            action = (
                "Optional CT at 12 months (high-risk patient)."
                if high_risk
                else "No routine follow-up (low-risk patient)."
            )
        elif diameter <= 8:
            size = "6-8 mm"
            strength = "moderate"
            action = (
                "CT at 6-12 months, then CT at 18-24 months."
                if high_risk
                else "CT at 6-12 months, then consider CT at 18-24 months."
            )
        else:
            size = "> 8 mm"
            urgency = Urgency.SOON
            strength = "moderate"
            action = "Consider CT at 3 months, PET/CT, or tissue sampling."
        action = f"Solid pulmonary nodule {size} ({risk_word}): {action}"
    if study.modality.upper() != "CT":
        action = (
            f"Nodule on {study.modality}: characterise with chest CT first (Fleischner applies to "
            f"CT-detected nodules). {action}"
        )
    return Finding(
        rule_id="imaging-nodule-followup",
        title=_labelled(study, f"Pulmonary nodule follow-up ({size})", reasons),
        action=action,
        category="imaging",
        urgency=urgency,
        strength=strength,
        evidence="Fleischner Society consensus recommendation (2017)",
        source=NODULE_SOURCE,
        reasons=tuple(reasons),
        suggestions=(Suggestion(label="Chest CT follow-up", kind="order"),)
        if size != "< 6 mm" or high_risk
        else (),
        dedupe_key="imaging-followup",
        illustrative=study.synthetic,
        illustrative_note=ILLUSTRATIVE_NOTE if study.synthetic else "",
        details={
            "study_id": study.study_id,
            "diameter_mm": diameter,
            "size_category": size,
            "fleischner_risk": risk_word,
        },
    )


def imaging_opacity_followup(facts: PatientFacts) -> Finding | None:
    study = newest_study(facts, "opacity")
    if study is None or study.abnormal_probability < ABNORMAL_THRESHOLD:
        return None
    reasons = [_study_reason(study)]
    return Finding(
        rule_id="imaging-opacity-followup",
        title=_labelled(study, "Lung opacity: clinical correlation and follow-up", reasons),
        action=(
            "Correlate clinically (symptoms, signs, inflammatory markers). If consistent with "
            "infection, treat, and repeat chest imaging about 6-8 weeks after treatment when "
            "symptoms persist or malignancy risk is higher (smokers, age over 50); a persisting "
            "opacity needs further investigation."
        ),
        category="imaging",
        urgency=Urgency.SOON,
        strength="weak",
        evidence="BTS grade D",
        source=OPACITY_SOURCE,
        reasons=tuple(reasons),
        suggestions=(Suggestion(label="Repeat chest radiograph in 6-8 weeks", kind="order"),),
        dedupe_key="imaging-followup",
        illustrative=study.synthetic,
        illustrative_note=ILLUSTRATIVE_NOTE if study.synthetic else "",
        details={"study_id": study.study_id},
    )


register(
    Rule(
        id="imaging-nodule-followup",
        title="Pulmonary nodule on AI imaging: Fleischner follow-up",
        category="imaging",
        source=NODULE_SOURCE,
        description=(
            "The newest study of the last year predicts a nodule (probability >= 0.5): follow-up "
            "by equivalent diameter and smoking risk (Fleischner 2017). Illustrative while the "
            "imaging model is synthetic."
        ),
        evaluate=imaging_nodule_followup,
    )
)
register(
    Rule(
        id="imaging-opacity-followup",
        title="Lung opacity on AI imaging: correlate and repeat imaging",
        category="imaging",
        source=OPACITY_SOURCE,
        description=(
            "The newest study of the last year predicts an opacity (probability >= 0.5): clinical "
            "correlation, repeat imaging 6-8 weeks after treatment if infective. Illustrative "
            "while the imaging model is synthetic."
        ),
        evaluate=imaging_opacity_followup,
    )
)
