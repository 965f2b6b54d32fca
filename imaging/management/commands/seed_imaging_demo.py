"""`manage.py seed_imaging_demo`: demo imaging studies for the demo patients of the radiologist's
care teams, uploaded by the demo clinician and analysed by the worker once it runs (`make run`).

Idempotent: it adds nothing when demo studies exist. The files are synthetic phantoms (see
imaging.demo); their analysis uses the active model, itself trained on synthetic images.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from accounts.models import Role, User
from imaging.demo import demo_uploads
from imaging.models import Study
from imaging.services import study_submit
from patients.demo import DEMO_EMAIL_DOMAIN
from patients.selectors import patients_visible_to


class Command(BaseCommand):
    help = "Upload synthetic demo studies for the demo patients (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--count", type=int, default=12, help="studies to add (default 12)")

    def handle(self, *args: Any, **options: Any) -> None:
        clinician = User.objects.filter(email=f"{Role.CLINICIAN.value}@{DEMO_EMAIL_DOMAIN}").first()
        radiologist = User.objects.filter(
            email=f"{Role.RADIOLOGIST.value}@{DEMO_EMAIL_DOMAIN}"
        ).first()
        if clinician is None or radiologist is None:
            self.stdout.write("No demo users: run `manage.py seed_demo` first.")
            return
        if Study.objects.filter(uploaded_by=clinician).exists():
            self.stdout.write("Demo imaging studies exist already; nothing added.")
            return
        visible = patients_visible_to(user=radiologist).filter(is_synthetic=True).order_by("pk")
        patients = list(visible[: options["count"]])
        uploads = demo_uploads([(f"{p.family_name}^{p.given_name}", p.mrn) for p in patients])
        for patient, (name, data, _) in zip(patients, uploads, strict=True):
            with transaction.atomic():
                study_submit(by=clinician, patient=patient, chunks=[data], original_name=name)
        self.stdout.write(
            f"{len(patients)} demo imaging studies queued (synthetic phantoms); the worker "
            "analyses them once it runs."
        )
