"""`manage.py seed_risk_demo`: risk assessments, and SIMULATED outcomes, for the synthetic demo
patients, so that the model-quality dashboard has live figures and drift by month to show."""

import datetime as dt
import zlib
from collections import Counter
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from accounts.models import Role, User
from patients.demo import DEMO_EMAIL_DOMAIN
from patients.models import Condition, Patient
from prediction.demo_inputs import (
    DEMO_FITS,
    DemoRowPool,
    DemoSubject,
    demo_fits,
    demo_subject,
    features_to_enter,
)
from prediction.features import features_for_patient
from prediction.models import Outcome, RiskAssessment
from prediction.selectors import model_versions_active
from prediction.services import risk_assess, risk_outcome_record

SPREAD_DAYS = 182


def _fits_text() -> str:
    return "; ".join(f"{disease}: {fit.who}" for disease, fit in DEMO_FITS.items())


class Command(BaseCommand):
    help = (
        "Assess the synthetic demo patients (is_synthetic) with each active risk model, each "
        f"disease only for the patients its intended use covers ({_fits_text()}), spreading the "
        "assessments' dates over the past 6 months, and record an outcome for a random share "
        "of them. Inputs a demo record cannot give (typed in at assessment, absent or stale) "
        "are SIMULATED entries: the values of one real row of the disease's own training data, "
        "of the same sex and a close age, and the assessment's inputs say which row. The "
        "outcomes are SIMULATED: confirmed with probability equal to the model's own estimate, "
        "so the live figures of the demo show how the dashboards work, not how well the models "
        "perform. Seeded and idempotent: a patient already assessed for a disease is left as "
        "it is (--only-missing, the default and only behaviour)."
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
        # Rows are loaded only for a disease that has a patient to assess this run.
        pools = {disease: DemoRowPool(disease) for disease in diseases}
        patients = (
            Patient.objects.filter(is_synthetic=True)
            .order_by("pk")
            .prefetch_related(
                "care_teams",
                Prefetch(
                    "conditions", queryset=Condition.objects.filter(status=Condition.Status.ACTIVE)
                ),
            )
        )
        counts: dict[str, Counter[str]] = {disease: Counter() for disease in diseases}
        outcomes = 0
        today = timezone.localdate()
        for patient in patients.iterator(chunk_size=200):
            subject = demo_subject(patient=patient, today=today)
            with transaction.atomic():
                for disease in diseases:
                    if (patient.pk, disease) in done:
                        counts[disease]["present"] += 1
                    elif not demo_fits(disease=disease, subject=subject):
                        counts[disease]["not fitting"] += 1
                    else:
                        made = self._assess(patient, subject, disease, pools[disease], by, options)
                        counts[disease]["created" if made is not None else "skipped"] += 1
                        outcomes += made is True
        for disease, count in counts.items():
            who = DEMO_FITS[disease].who if disease in DEMO_FITS else "nobody (no demo rule)"
            self.stdout.write(
                f"{disease}: {count['created']} created, {count['present']} already present, "
                f"{count['skipped']} skipped (a feature invalid or missing); "
                f"{count['not fitting']} not assessed (the demo assesses {who})."
            )
        total = sum(count["created"] for count in counts.values())
        self.stdout.write(
            f"Risk assessments of synthetic patients: {total} created; inputs a record cannot "
            "give are SIMULATED entries from real training rows; "
            f"{outcomes} SIMULATED outcomes recorded (P(confirmed) = the model's probability)."
        )

    def _assess(
        self,
        patient: Patient,
        subject: DemoSubject,
        disease: str,
        pool: DemoRowPool,
        by: User,
        options: dict[str, Any],
    ) -> bool | None:
        """Assess one fitting pair: None when it could not be, else whether an outcome was
        recorded."""
        # A generator per patient and disease, whatever the other diseases and patients.
        stream = [options["seed"], patient.pk, zlib.crc32(disease.encode())]
        values = features_for_patient(patient=patient, disease=disease)
        wanted = features_to_enter(values)
        row = None
        if wanted:
            known = {fv.spec.name: fv.value for fv in values if fv.spec.name not in wanted}
            row = pool.pick(
                subject=subject,
                wanted=wanted,
                known={name: value for name, value in known.items() if value is not None},
                rng=np.random.default_rng([*stream, 1]),
            )
        try:
            assessment = risk_assess(
                by=by, patient=patient, disease=disease, overrides=row.values if row else None
            )
        except ValidationError:  # a record value out of range, or a model that wants more
            return None
        rng = np.random.default_rng(stream)
        now = timezone.now()
        when = now - dt.timedelta(days=float(rng.uniform(0, SPREAD_DAYS)))
        day = timezone.localtime(when).date()
        age = None
        if isinstance(patient.date_of_birth, dt.date):
            age = max(0, min(patient.age_on(day), RiskAssessment.SUBJECT_AGE_CAP))
        inputs = assessment.inputs
        if row is not None:
            # Say where a simulated entry came from, rather than "entered at assessment".
            for name in row.values:
                inputs[name] = {**inputs[name], "source": row.source}
        # The demo's history: dated back, with the age the patient had that day.
        RiskAssessment.objects.filter(pk=assessment.pk).update(
            created_at=when, subject_age=age, inputs=inputs
        )
        assessment.created_at = when
        if rng.random() >= options["outcome_share"]:
            return False
        confirmed = rng.random() < assessment.probability
        later = min(int(rng.integers(0, 60)), (timezone.localdate() - day).days)
        risk_outcome_record(
            by=by,
            assessment=assessment,
            outcome=Outcome.CONFIRMED if confirmed else Outcome.RULED_OUT,
            outcome_date=day + dt.timedelta(days=later),
        )
        return True
