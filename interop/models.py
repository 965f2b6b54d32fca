"""Imports of patients and their records from a FHIR Bundle or a CSV file (interop.importing).

An ImportJob is the unit of work, like an imaging Study: the upload is stored encrypted, the row is
created QUEUED and a worker claims it with a conditional UPDATE that sets a fresh `claim_token`
(QUEUED -> RUNNING -> DONE | FAILED). The database, not the queue, is the source of truth: a
redelivered message finds nothing to claim, and the sweeper puts back a job whose message was lost
or whose worker died. Re-running a job is harmless: the import is idempotent (natural keys).
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from patients.crypto import EncryptedCharField
from patients.models import CareTeam


class ImportJob(models.Model):
    """One uploaded file and its import into the record.

    Invariants: `file_name` and `report_name` name files under MEDIA_ROOT/interop/, encrypted at
    rest (both hold PHI); counts and progress are written only by the holder of `claim_token`;
    a DONE job has a report (a header only when nothing was rejected). Progress: while the file is
    read, `bytes_read` of `size_bytes`; then `rows_done` of `rows_total` (rows = patients and
    record entries found in the file, rejected ones included)."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Format(models.TextChoices):
        FHIR_BUNDLE = "fhir-bundle", "FHIR Bundle (JSON)"
        CSV = "csv", "CSV (the portal's template)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    care_team = models.ForeignKey(
        CareTeam,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The care team that patients created by the import join.",
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    # The file, as received (decided by content, never by name).
    format = models.CharField(max_length=12, choices=Format.choices)
    file_name = models.CharField(max_length=200)
    original_name = EncryptedCharField(max_length=255, blank=True)  # may name a patient
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)

    # State of the work (the claim as in imaging.models.Study).
    state = models.CharField(
        max_length=10, choices=State.choices, default=State.QUEUED, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    claim_token = models.UUIDField(null=True, blank=True)
    enqueued_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    failure_code = models.CharField(max_length=40, blank=True)
    failure_reason = models.TextField(blank=True)

    # Progress.
    bytes_read = models.PositiveBigIntegerField(default=0)
    rows_total = models.PositiveIntegerField(default=0)
    rows_done = models.PositiveIntegerField(default=0)

    # Counts (of the last run: a re-run counts what an earlier one wrote as present).
    patients_created = models.PositiveIntegerField(default=0)
    patients_matched = models.PositiveIntegerField(default=0)
    observations_imported = models.PositiveIntegerField(default=0)
    observations_present = models.PositiveIntegerField(default=0)
    entries_imported = models.PositiveIntegerField(
        default=0, help_text="Conditions, allergies, medications and family history added."
    )
    entries_present = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(
        default=dict,
        blank=True,
        help_text="{resource type: count} of resources not imported by design (derived results).",
    )

    # The rejected-rows report (CSV, encrypted).
    report_name = models.CharField(max_length=200, blank=True)
    # The upload and the report hold PHI and are copies of what the record now holds (or of what
    # it refused): the sweeper removes them INTEROP_IMPORT_KEEP_DAYS after the job ended.
    files_removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "enqueued_at"]),
            models.Index(fields=["created_by", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"Import {self.public_id} ({self.format}, {self.state})"

    @property
    def report_available(self) -> bool:
        """The rejected-rows report is written and its files were not removed yet."""
        return bool(self.report_name) and self.files_removed_at is None

    @property
    def is_pending(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RUNNING)

    @property
    def percent(self) -> int:
        """Progress 0-100: reading the file is the first quarter, importing the rest."""
        if self.state == self.State.DONE:
            return 100
        if self.rows_total:
            return min(99, 25 + (75 * self.rows_done) // self.rows_total)
        if self.size_bytes:
            return min(25, (25 * self.bytes_read) // self.size_bytes)
        return 0

    @property
    def phase(self) -> str:
        if self.state != self.State.RUNNING:
            return self.get_state_display()
        return "Importing" if self.rows_total else "Reading the file"
