"""Report text drafted from a study's structured findings, and the FHIR R4 DiagnosticReport.

The draft is plain prose a radiologist edits: what was examined, what the model estimated (every
class's probability), the segmented lesion area, an impression worded as a question for the
reader, and the model's name, version and training data. It is marked "AI draft" until signed.
"""

import base64
import math
from typing import Any

from imaging.models import Study, StudyReport
from imaging.selectors import modality_words, study_title

AI_DRAFT_MARK = (
    "AI DRAFT: preliminary, generated from the model's findings; not reviewed by a radiologist."
)
CLASS_WORDS = {
    "normal": "no abnormal finding",
    "nodule": "a focal nodule",
    "opacity": "a diffuse opacity",
}
IMPRESSIONS = {
    "normal": "No abnormality detected by the model. Radiologist review required.",
    "nodule": "Possible focal nodule. Recommend radiologist review and comparison with prior "
    "imaging; consider follow-up according to local nodule guidelines.",
    "opacity": "Possible diffuse opacity (ground-glass pattern). Recommend radiologist review and "
    "clinical correlation (infection, inflammation, oedema).",
}
LOINC_IMAGING_REPORT = ("18748-4", "Diagnostic imaging study")


def _class_words(name: str) -> str:
    return CLASS_WORDS.get(name, name)


def report_draft_text(study: Study) -> str:
    """The AI draft for a DONE study (no PHI beyond what the study shows: modality, body part)."""
    version = study.model_version
    probabilities = study.probabilities or {}
    exam = study_title(study)
    if study.frames > 1 and study.key_frame is not None:
        exam += f" ({study.frames} frames; key frame {study.key_frame + 1})"
    ranked = sorted(probabilities.items(), key=lambda kv: kv[1], reverse=True)
    estimates = "; ".join(f"{_class_words(c)} {p:.0%}" for c, p in ranked)
    lines = [AI_DRAFT_MARK]
    if version is not None and version.is_synthetic:
        lines.append(str(version.manifest.get("card_warning", "")))
    lines += ["", f"EXAMINATION: {exam}."]
    if study.study_date:
        lines.append(f"STUDY DATE: {study.study_date}.")
    finding = study.predicted_class
    lines += ["", "FINDINGS:", f"The model estimates {_class_words(finding)} ({estimates})."]
    if study.lesion_area_mm2 is not None and study.lesion_area_px:
        diameter = 2 * math.sqrt(study.lesion_area_mm2 / math.pi)
        lines.append(
            f"Segmented lesion area {study.lesion_area_mm2:.1f} mm² (equivalent diameter "
            f"{diameter:.1f} mm)."
        )
    elif study.lesion_area_px:
        lines.append(
            f"Segmented lesion area {study.lesion_area_px} pixels (no pixel spacing in the file)."
        )
    lines += ["", "IMPRESSION:", IMPRESSIONS.get(finding, f"Possible {finding}. Review required.")]
    if version is not None:
        lines += ["", f"Model: {version.name} {version.version}."]
    return "\n".join(lines)


def report_fhir(report: StudyReport, *, base_url: str = "") -> dict[str, Any]:
    """The signed report as a FHIR R4 DiagnosticReport (JSON object). The AI's estimates travel as
    contained Observations, tagged as AI-asserted; the conclusion is the radiologist's text."""
    study = report.study
    version = study.model_version
    observations: list[dict[str, Any]] = []
    for index, (name, probability) in enumerate(sorted((study.probabilities or {}).items())):
        observations.append(
            {
                "resourceType": "Observation",
                "id": f"ai-{index}",
                "meta": {"security": [_ai_tag()]},
                "status": "final",
                "code": {"text": f"AI probability of {_class_words(name)}"},
                "valueQuantity": {
                    "value": round(float(probability) * 100, 2),
                    "unit": "%",
                    "system": "http://unitsofmeasure.org",
                    "code": "%",
                },
                "device": {"display": f"{version.name} {version.version}"} if version else None,
            }
        )
    if study.lesion_area_mm2 is not None:
        observations.append(
            {
                "resourceType": "Observation",
                "id": "ai-lesion-area",
                "meta": {"security": [_ai_tag()]},
                "status": "final",
                "code": {"text": "AI segmented lesion area"},
                "valueQuantity": {
                    "value": study.lesion_area_mm2,
                    "unit": "mm2",
                    "system": "http://unitsofmeasure.org",
                    "code": "mm2",
                },
            }
        )
    for obs in observations:
        obs["subject"] = {"reference": f"Patient/{study.patient.public_id}"}
        if obs.get("device") is None:
            obs.pop("device", None)
    signer = report.signed_by
    text = str(report.text)
    resource: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": str(report.public_id),
        "meta": {"profile": ["http://hl7.org/fhir/StructureDefinition/DiagnosticReport"]},
        "contained": observations,
        "identifier": [{"system": f"{base_url}/imaging/studies", "value": str(study.public_id)}],
        "status": "final" if report.status == StudyReport.Status.SIGNED else "preliminary",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                        "code": "RAD",
                        "display": "Radiology",
                    }
                ]
            }
        ],
        "code": {
            "coding": [
                {
                    "system": "http://loinc.org",
                    "code": LOINC_IMAGING_REPORT[0],
                    "display": LOINC_IMAGING_REPORT[1],
                }
            ],
            "text": f"{modality_words(study.modality)} report",
        },
        "subject": {"reference": f"Patient/{study.patient.public_id}"},
        "effectiveDateTime": study.study_date or study.uploaded_at.isoformat(),
        "result": [{"reference": f"#{obs['id']}"} for obs in observations],
        "conclusion": text,
        "presentedForm": [
            {
                "contentType": "text/plain; charset=utf-8",
                "language": "en",
                "data": base64.b64encode(text.encode()).decode(),
                "title": "Radiology report",
            }
        ],
    }
    if report.signed_at:
        resource["issued"] = report.signed_at.isoformat()
    if signer is not None:
        name = signer.full_name or signer.email
        resource["resultsInterpreter"] = [{"display": name}]
    return resource


def _ai_tag() -> dict[str, str]:
    return {
        "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
        "code": "AIAST",
        "display": "Artificial Intelligence asserted",
    }
