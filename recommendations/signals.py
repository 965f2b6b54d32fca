"""What makes a patient's recommendations be worked out again: any change to the record, a new
risk assessment, or an imaging study finishing or being reported. Each queues one refresh for
after the commit (recommendations.services.recommendations_refresh_later), never a page view."""

from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save

from imaging.signals import study_changed
from patients.models import (
    Allergy,
    Condition,
    FamilyHistory,
    GeneticMarker,
    LifestyleAssessment,
    Medication,
    Observation,
    Patient,
)
from prediction.models import RiskAssessment

RECORD_MODELS = (
    Allergy,
    Condition,
    FamilyHistory,
    GeneticMarker,
    LifestyleAssessment,
    Medication,
    Observation,
    RiskAssessment,
)


def _entry_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    from recommendations.services import recommendations_refresh_later

    if kwargs.get("raw") or not settings.RECOMMENDATIONS_AUTO_REFRESH:  # raw: loaddata
        return
    recommendations_refresh_later(patient_id=instance.patient_id)


def _patient_changed(sender: Any, instance: Patient, **kwargs: Any) -> None:
    from recommendations.services import recommendations_refresh_later

    if kwargs.get("raw") or not settings.RECOMMENDATIONS_AUTO_REFRESH:
        return
    recommendations_refresh_later(patient_id=instance.pk)


def _study_changed(sender: Any, patient_id: int, **kwargs: Any) -> None:
    from recommendations.services import recommendations_refresh_later

    if not settings.RECOMMENDATIONS_AUTO_REFRESH:
        return
    recommendations_refresh_later(patient_id=patient_id)


def signals_connect() -> None:
    for model in RECORD_MODELS:
        post_save.connect(_entry_changed, sender=model, dispatch_uid=f"reco-save-{model.__name__}")
        post_delete.connect(
            _entry_changed, sender=model, dispatch_uid=f"reco-delete-{model.__name__}"
        )
    post_save.connect(_patient_changed, sender=Patient, dispatch_uid="reco-save-patient")
    study_changed.connect(_study_changed, dispatch_uid="reco-study-changed")
