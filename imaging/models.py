"""Imaging studies, the CNN versions that analyse them and the reports radiologists sign.

A Study is the unit of work: one upload (a PNG, a JPEG, a DICOM file or a zipped DICOM series) of
one patient. The database, not the queue, is the source of truth for its analysis: the state moves
QUEUED -> RUNNING -> DONE | FAILED, a worker claims it with a conditional UPDATE that sets a fresh
`claim_token`, and only the holder of that token may write the result. A periodic sweeper puts back
studies whose message was lost or whose worker died (see imaging.services).

Files live under MEDIA_ROOT/imaging/ with random names and are served only by permission-checked
views. DICOM header PHI (names, ids, dates) is kept in `dicom_phi`, encrypted like the record.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from patients.crypto import EncryptedCharField, EncryptedJSONField
from patients.models import Patient


class ImagingModelVersion(models.Model):
    """One trained bundle (classifier, optional segmenter) on disk under IMAGING_MODEL_ROOT.

    Invariants: at most one version is active; `files` copies the manifest's {file: sha256} at
    registration and a worker loads nothing whose digest on disk differs from it."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=60)
    version = models.CharField(max_length=60)
    artifact_dir = models.CharField(
        max_length=300,
        help_text="Folder of the bundle and manifest.json, under IMAGING_MODEL_ROOT.",
    )
    sha256 = models.CharField(max_length=64, help_text="Digest of the classifier's ONNX file.")
    files = models.JSONField(default=dict, help_text="{file name: sha256} from the manifest.")
    manifest = models.JSONField()
    is_synthetic = models.BooleanField(
        default=False, help_text="Trained on synthetic images (said on its card and results)."
    )
    is_active = models.BooleanField(default=False)
    registered_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-registered_at"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="unique_imaging_version"),
            models.UniqueConstraint(
                fields=["is_active"], condition=Q(is_active=True), name="one_active_imaging_model"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    @property
    def classes(self) -> list[str]:
        return list(self.manifest.get("classes", []))

    @property
    def normal_class(self) -> str:
        return str(self.manifest.get("normal_class", ""))


class Study(models.Model):
    """One uploaded image or series of one patient, and the AI analysis of it.

    Results (`probabilities` ... `mask_name`) are written in one UPDATE together with
    state=DONE, by the worker whose `claim_token` still matches. `abnormal_probability`
    (1 - P(normal)) is the worklist's urgency. `timings` holds milliseconds per stage: queue,
    decode, preprocess, classify, heatmap, segment, render, write."""

    class State(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Kind(models.TextChoices):
        PNG = "png", "PNG image"
        JPEG = "jpeg", "JPEG image"
        DICOM = "dicom", "DICOM file"
        DICOM_ZIP = "dicom-zip", "DICOM series (zip)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="imaging_studies")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(default=timezone.now, db_index=True)

    # The file, as received (random name, relative to MEDIA_ROOT).
    kind = models.CharField(max_length=10, choices=Kind.choices)
    file_name = models.CharField(max_length=200)
    original_name = EncryptedCharField(max_length=255, blank=True)  # may hold a patient's name
    size_bytes = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)

    # Metadata read from the content (never PHI).
    modality = models.CharField(max_length=8, db_index=True)
    body_part = models.CharField(max_length=40, blank=True)
    rows = models.PositiveIntegerField()
    columns = models.PositiveIntegerField()
    frames = models.PositiveIntegerField(default=1)
    pixel_spacing_mm = models.JSONField(null=True, blank=True, help_text="[row, column] in mm")
    dicom_phi = EncryptedJSONField(
        blank=True, default=dict, help_text="Patient and study identifiers from the DICOM header."
    )

    # Analysis state. Deadlines are checked by the sweeper; attempts count claims.
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
    timings = models.JSONField(default=dict, blank=True)

    # Results.
    model_version = models.ForeignKey(
        ImagingModelVersion, null=True, blank=True, on_delete=models.PROTECT, related_name="studies"
    )
    probabilities = models.JSONField(null=True, blank=True, help_text="{class: probability}")
    predicted_class = models.CharField(max_length=40, blank=True)
    abnormal_probability = models.FloatField(null=True, blank=True, db_index=True)
    key_frame = models.PositiveIntegerField(null=True, blank=True)
    lesion_area_px = models.PositiveIntegerField(null=True, blank=True)
    lesion_area_mm2 = models.FloatField(null=True, blank=True)
    preview_name = models.CharField(max_length=200, blank=True)
    heatmap_name = models.CharField(max_length=200, blank=True)
    mask_name = models.CharField(max_length=200, blank=True)
    frame_name = models.CharField(
        max_length=200,
        blank=True,
        help_text="The key frame in physical units (.npy), for window/level.",
    )

    class Meta:
        ordering = ["-uploaded_at"]
        verbose_name_plural = "studies"
        indexes = [
            models.Index(fields=["state", "enqueued_at"]),
            models.Index(fields=["state", "finished_at"]),  # the operations dashboard's windows
            models.Index(fields=["patient", "uploaded_at"]),
        ]

    def __str__(self) -> str:
        return f"Study {self.public_id} ({self.modality}, {self.state})"

    @property
    def is_pending(self) -> bool:
        return self.state in (self.State.QUEUED, self.State.RUNNING)

    @property
    def study_date(self) -> str:
        return str((self.dicom_phi or {}).get("study_date", ""))


class StudyReport(models.Model):
    """The report of one study: an AI draft from the structured findings, edited and signed by a
    radiologist. Invariant: once SIGNED, `text` never changes and `signed_sha256` is its digest."""

    class Status(models.TextChoices):
        DRAFT = "draft", "AI draft"
        SIGNED = "signed", "Signed (final)"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    study = models.OneToOneField(Study, on_delete=models.CASCADE, related_name="report")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    draft_text = EncryptedJSONField(default=str, help_text="The AI draft as generated.")
    text = EncryptedJSONField(default=str, help_text="The text as edited (final once signed).")
    drafted_at = models.DateTimeField(default=timezone.now)
    edited_at = models.DateTimeField(null=True, blank=True)
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_sha256 = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"Report of {self.study_id} ({self.status})"


class WorkerHeartbeat(models.Model):
    """One Celery worker node, as its main process last reported itself (imaging.heartbeat).

    The row is written when the worker is ready, `last_seen_at` every WORKER_HEARTBEAT_SECONDS
    while it runs, and `stopped_at` on a warm shutdown. A worker is alive when it has not stopped
    and was seen within three intervals: a killed worker (no shutdown) goes silent, not stopped."""

    hostname = models.CharField(max_length=255, unique=True, help_text="Celery node name.")
    pid = models.PositiveIntegerField(help_text="The worker's main process.")
    queues = models.JSONField(default=list, blank=True, help_text="Queues it consumes from.")
    started_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now, db_index=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["hostname"]

    def __str__(self) -> str:
        return f"Worker {self.hostname} (pid {self.pid})"
