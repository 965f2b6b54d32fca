"""Celery adapters of the recommendations app (queue `default`; they carry ids, never PHI)."""

from celery import shared_task

from patients.models import Patient


@shared_task(ignore_result=True)
def recommendations_refresh_task(patient_id: int) -> int | None:
    """Work out one patient's recommendations again; how many are current (None: no patient)."""
    from recommendations.services import recommendations_refresh

    patient = Patient.objects.filter(pk=patient_id).first()
    if patient is None:
        return None
    return len(recommendations_refresh(patient=patient))
