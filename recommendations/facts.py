"""PatientFacts from the record: what the rules see of a patient of ours.

Reads the patient record (active conditions and medications, allergies, genetics, the latest
observation of each code, the latest lifestyle assessment), the latest risk assessment of each
disease (prediction, through its selectors) and the finished imaging studies (imaging, through its
selectors). The treatment-benefit estimate is added by services.findings_for_facts, not here.
"""

import datetime as dt

from django.utils import timezone

from imaging.selectors import studies_for_patient
from patients.models import Condition, Medication, Patient
from patients.selectors import observations_latest
from prediction.selectors import assessments_for_patient, disease_title
from recommendations.engine.facts import (
    AllergyFact,
    ConditionFact,
    GeneticFact,
    ImagingFact,
    MedicationFact,
    ObservationFact,
    PatientFacts,
    RiskFact,
)

# Imaging studies older than this are not followed up by a rule any more.
IMAGING_LOOKBACK_DAYS = 366
MAX_STUDIES = 20


def _day(when: dt.datetime) -> dt.date:
    return timezone.localtime(when).date() if timezone.is_aware(when) else when.date()


def _risks(patient: Patient) -> dict[str, RiskFact]:
    latest: dict[str, RiskFact] = {}
    for assessment in assessments_for_patient(patient=patient)[:200]:
        version = assessment.model_version
        if version.disease in latest:
            continue
        latest[version.disease] = RiskFact(
            disease=version.disease,
            title=disease_title(version.disease),
            probability=float(assessment.probability),
            band=assessment.risk_band,
            at=_day(assessment.created_at),
            model=f"{version.disease} {version.version}",
            synthetic=version.is_synthetic,
        )
    return latest


def _imaging(patient: Patient, today: dt.date) -> tuple[ImagingFact, ...]:
    since = timezone.now() - dt.timedelta(days=IMAGING_LOOKBACK_DAYS)
    studies = (
        studies_for_patient(patient=patient)
        .filter(state="done", finished_at__gte=since)
        .select_related("report")
        .order_by("-finished_at")[:MAX_STUDIES]
    )
    facts: list[ImagingFact] = []
    for study in studies:
        if not study.predicted_class or study.abnormal_probability is None:
            continue
        version = study.model_version
        report = getattr(study, "report", None)
        facts.append(
            ImagingFact(
                study_id=str(study.public_id),
                modality=study.modality,
                body_part=study.body_part,
                predicted_class=study.predicted_class,
                abnormal_probability=float(study.abnormal_probability),
                probabilities={k: float(v) for k, v in (study.probabilities or {}).items()},
                lesion_area_mm2=study.lesion_area_mm2,
                at=_day(study.finished_at or study.uploaded_at),
                model=f"{version.name} {version.version}" if version else "",
                synthetic=bool(version.is_synthetic) if version else True,
                report_signed=bool(report and report.status == "signed"),
            )
        )
    return tuple(facts)


def facts_for_patient(*, patient: Patient, today: dt.date | None = None) -> PatientFacts:
    """Everything the rules may look at for `patient` (the caller has checked access)."""
    today = today or timezone.localdate()
    observations = {
        code: ObservationFact(
            code=obs.code,
            display=obs.display,
            value=obs.value,
            unit=obs.unit,
            at=_day(obs.effective_at),
        )
        for code, obs in observations_latest(patient=patient).items()
    }
    conditions = tuple(
        ConditionFact(code=c.code, display=c.display, onset=c.onset_date)
        for c in patient.conditions.filter(status=Condition.Status.ACTIVE)
    )
    medications = tuple(
        MedicationFact(name=m.name, code=m.code, since=m.start_date)
        for m in patient.medications.filter(status=Medication.Status.ACTIVE)
    )
    allergies = tuple(
        AllergyFact(substance=a.substance, code=a.code, severity=a.severity)
        for a in patient.allergys.all()
    )
    genetics = tuple(
        GeneticFact(gene=g.gene, variant=g.variant, interpretation=g.interpretation)
        for g in patient.geneticmarkers.all()
    )
    lifestyle = patient.lifestyleassessments.order_by("-assessed_on", "-recorded_at").first()
    try:
        age: int | None = patient.age_on(today)
    except (TypeError, AttributeError):
        age = None
    return PatientFacts(
        today=today,
        age=age,
        sex=patient.sex or "unknown",
        observations=observations,
        conditions=conditions,
        medications=medications,
        allergies=allergies,
        genetics=genetics,
        smoking=lifestyle.smoking if lifestyle else None,
        smoking_at=lifestyle.assessed_on if lifestyle else None,
        activity_minutes_per_week=lifestyle.activity_minutes_per_week if lifestyle else None,
        activity_at=lifestyle.assessed_on if lifestyle else None,
        risks=_risks(patient),
        imaging=_imaging(patient, today),
    )
