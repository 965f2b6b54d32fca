"""`manage.py seed_risk_demo`: risk assessments, and SIMULATED outcomes, for the synthetic demo
patients, so that the model-quality dashboard has live figures and drift by month to show."""

import datetime as dt
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from patients.demo import DEMO_EMAIL_DOMAIN
from patients.models import Patient
from prediction.models import Outcome, RiskAssessment
from prediction.selectors import model_versions_active
from prediction.services import risk_assess, risk_outcome_record

SPREAD_DAYS = 182


class Command(BaseCommand):
    help = (
        "Assess every synthetic demo patient (is_synthetic) with each active risk model whose "
        "features the record holds (records missing a feature are skipped), spreading the "
        "assessments' dates over the past 6 months, and record an outcome for a random share "
        "of them. The outcomes are SIMULATED: confirmed with probability equal to the model's "
        "own estimate, so the live figures of the demo show how the dashboards work, not how "
        "well the models perform. Idempotent: a patient already assessed for a disease is left "
        "as it is (--only-missing, the default and only behaviour)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--seed", type=int, default=20240601, help="Random seed.")
        parser.add_argument(
            "--outcome-share",
            type=float,
            default=0.5,
            help="Share of new assessments that get a simulated outcome (default 0.5).",
        )
        parser.add_argument(
            "--by",
            help="Email of the clinician or admin recorded as assessing (default: the demo "
            "admin, else the first active administrator).",
        )
        parser.add_argument(
            "--only-missing",
            action="store_true",
            default=True,
            help="Assess only patients without an assessment for the disease (the default).",
        )

    def _assessor(self, email: str | None) -> User:
        users = User.objects.filter(is_active=True)
        if email:
            user = users.filter(email=email).first()
        else:
            user = users.filter(email=f"{Role.ADMIN.value}@{DEMO_EMAIL_DOMAIN}").first()
            user = user or users.filter(role=Role.ADMIN).order_by("pk").first()
            user = user or users.filter(is_superuser=True).order_by("pk").first()
        if user is None:
            raise CommandError(
                "No assessing user: run seed_demo first, or name a clinician or admin with --by."
            )
        return user

    def handle(self, *args: Any, **options: Any) -> None:
        share = options["outcome_share"]
        if not 0 <= share <= 1:
            raise CommandError("--outcome-share must be between 0 and 1.")
        by = self._assessor(options["by"])
        versions = list(model_versions_active())
        if not versions:
            self.stdout.write("No active risk model: nothing to assess (run train_risk_models).")
            return
        diseases = [v.disease for v in versions]
        done = set(
            RiskAssessment.objects.filter(
                patient__is_synthetic=True, disease__in=diseases
            ).values_list("patient_id", "disease")
        )
        now = timezone.now()
        today = timezone.localdate()
        created = skipped = present = outcomes = 0
        for patient in Patient.objects.filter(is_synthetic=True).order_by("pk").iterator():
            with transaction.atomic():
                for index, disease in enumerate(diseases):
                    if (patient.pk, disease) in done:
                        present += 1
                        continue
                    rng = np.random.default_rng([options["seed"], patient.pk, index])
                    try:
                        assessment = risk_assess(by=by, patient=patient, disease=disease)
                    except ValidationError:  # the record lacks a feature of this model
                        skipped += 1
                        continue
                    created += 1
                    when = now - dt.timedelta(days=float(rng.uniform(0, SPREAD_DAYS)))
                    day = timezone.localtime(when).date()
                    age = None
                    if isinstance(patient.date_of_birth, dt.date):
                        age = max(0, min(patient.age_on(day), RiskAssessment.SUBJECT_AGE_CAP))
                    # The demo's history: dated back, with the age the patient had that day.
                    RiskAssessment.objects.filter(pk=assessment.pk).update(
                        created_at=when, subject_age=age
                    )
                    assessment.created_at = when
                    if rng.random() >= share:
                        continue
                    confirmed = rng.random() < assessment.probability
                    later = min(int(rng.integers(0, 60)), (today - day).days)
                    risk_outcome_record(
                        by=by,
                        assessment=assessment,
                        outcome=Outcome.CONFIRMED if confirmed else Outcome.RULED_OUT,
                        outcome_date=day + dt.timedelta(days=later),
                    )
                    outcomes += 1
        self.stdout.write(
            f"Risk assessments of synthetic patients: {created} created, {present} already "
            f"present, {skipped} skipped (a model feature missing from the record); "
            f"{outcomes} SIMULATED outcomes recorded (P(confirmed) = the model's probability)."
        )
