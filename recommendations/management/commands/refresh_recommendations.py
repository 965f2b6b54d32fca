"""`manage.py refresh_recommendations`: work out every patient's recommendations now (after new
rules are deployed, or for the demo), in this process rather than through the queue."""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from patients.models import Patient
from recommendations.services import recommendations_refresh


class Command(BaseCommand):
    help = "Re-evaluate the recommendation rules for every patient (or --only-missing ones)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--only-missing",
            action="store_true",
            help="Only patients whose recommendations were never worked out.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        patients = Patient.objects.order_by("pk")
        if options["only_missing"]:
            patients = patients.filter(recommendation_run__isnull=True)
        started = time.perf_counter()
        count = findings = 0
        for patient in patients.iterator(chunk_size=200):
            findings += len(recommendations_refresh(patient=patient))
            count += 1
        seconds = time.perf_counter() - started
        self.stdout.write(
            f"Worked out recommendations for {count} patients ({findings} current) "
            f"in {seconds:.1f} s."
        )
