"""With a real Celery worker: a record change, once committed, gets the patient's recommendations
worked out on the `default` queue, without anyone opening a page."""

import time

import pytest
from django.db import transaction
from django.utils import timezone

from patients.services import condition_add, lifestyle_record, observation_record
from recommendations.models import EvaluationRun, Recommendation
from tests import factories

pytestmark = [pytest.mark.worker, pytest.mark.slow]
TIMEOUT_S = 60


def _wait_for_run(patient, after=None) -> EvaluationRun:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        run = EvaluationRun.objects.filter(patient=patient).first()
        if run is not None and (after is None or run.evaluated_at > after):
            return run
        time.sleep(0.2)
    pytest.fail("The worker did not work out the recommendations in time.")


def test_a_committed_record_change_is_evaluated_by_the_worker(live_worker, settings):
    settings.RECOMMENDATIONS_AUTO_REFRESH = True
    # Each batch of changes in one transaction: one refresh each, so that none is still running
    # when the test ends and the database is flushed.
    with transaction.atomic():
        clinician = factories.ClinicianFactory()
        team = factories.care_team_make(members=[clinician])
        patient = factories.patient_make(team=team, by=clinician)
        lifestyle_record(by=clinician, patient=patient, smoking="current")
    run = _wait_for_run(patient)
    smoking = Recommendation.objects.get(patient=patient, is_current=True, category="smoking")
    assert smoking.status == Recommendation.Status.PENDING

    # A later change is picked up too: the smoker quits, the advice is retired.
    with transaction.atomic():
        condition_add(by=clinician, patient=patient, code="E11.9", display="Type 2 diabetes")
        observation_record(
            by=clinician,
            patient=patient,
            code="4548-4",
            value=8.4,
            unit="%",
            effective_at=timezone.now(),
        )
        lifestyle_record(by=clinician, patient=patient, smoking="former")
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        smoking.refresh_from_db()
        current = set(
            Recommendation.objects.filter(patient=patient, is_current=True).values_list(
                "category", flat=True
            )
        )
        if not smoking.is_current and "diabetes" in current:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"Expected the smoking advice retired and diabetes advice; got {current}.")
    assert _wait_for_run(patient).evaluated_at > run.evaluated_at
