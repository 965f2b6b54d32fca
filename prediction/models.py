"""Registered risk-model versions and the assessments they made.

An artifact on disk (skops model + manifest.json, see prediction.ml) becomes a ModelVersion row
when registered; admins activate one version per disease. A RiskAssessment keeps everything needed
to trace a figure: its inputs with their sources, the probability, the band, the per-feature
contributions and the version that made it; later, the real outcome.
"""

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from patients.models import Patient


class ModelVersion(models.Model):
    """One trained artifact of one disease model. Invariant: at most one active per disease;
    `sha256` and `manifest` are copies of the artifact's manifest taken at registration."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    disease = models.CharField(max_length=40, db_index=True)
    version = models.CharField(max_length=60)
    algorithm = models.CharField(max_length=60)
    artifact_dir = models.CharField(
        max_length=300, help_text="Folder of model.skops and manifest.json, under RISK_MODEL_ROOT."
    )
    sha256 = models.CharField(max_length=64)
    manifest = models.JSONField()
    is_synthetic = models.BooleanField(
        default=False, help_text="Trained on synthetic data (said on its card and results)."
    )
    is_active = models.BooleanField(default=False)
    registered_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["disease", "-registered_at"]
        constraints = [
            models.UniqueConstraint(fields=["disease", "version"], name="unique_disease_version"),
            models.UniqueConstraint(
                fields=["disease"], condition=Q(is_active=True), name="one_active_per_disease"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.disease} {self.version} ({self.algorithm})"


class RiskBand(models.TextChoices):
    LOW = "low", "Low"
    MODERATE = "moderate", "Moderate"
    HIGH = "high", "High"


class Outcome(models.TextChoices):
    CONFIRMED = "confirmed", "Confirmed"
    RULED_OUT = "ruled_out", "Ruled out"


class RiskAssessment(models.Model):
    """A model's estimate for one patient at one time, with everything needed to trace it.

    `inputs`: {feature: {"value", "unit", "source", "observed_at", "entered"}};
    `contributions`: {"space", "base", "features": {feature: value}, "calibration_adjustment"},
    which add up to the model's output exactly. Outcome fields stay empty until a clinician
    records what really happened.

    Snapshots taken when the row is inserted (see save()), so that the dashboards aggregate in
    SQL without decrypting patients: `disease` equals model_version.disease; `subject_sex` and
    `subject_age` are the patient's sex and age in whole years on the assessment day, the age
    capped at SUBJECT_AGE_CAP (HIPAA Safe Harbor groups ages over 89). Invariant: exactly one
    row per (patient, disease) has `is_latest`, the newest.
    """

    SUBJECT_AGE_CAP = 90

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="risk_assessments")
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="assessments"
    )
    inputs = models.JSONField()
    probability = models.FloatField()
    risk_band = models.CharField(max_length=10, choices=RiskBand.choices)
    contributions = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True)
    outcome_date = models.DateField(null=True, blank=True)
    outcome_recorded_at = models.DateTimeField(null=True, blank=True)
    outcome_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    disease = models.CharField(max_length=40, editable=False, default="")
    subject_sex = models.CharField(max_length=10, editable=False, blank=True)
    subject_age = models.PositiveSmallIntegerField(null=True, editable=False)
    is_latest = models.BooleanField(default=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["model_version", "created_at"]),
            models.Index(fields=["disease", "is_latest", "risk_band"]),
            models.Index(fields=["patient", "disease", "is_latest"]),
        ]

    def __str__(self) -> str:
        return f"Risk assessment {self.public_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding:
            self.disease = self.model_version.disease
            patient = self.patient
            if not self.subject_sex:
                self.subject_sex = str(patient.sex or "")
            if self.subject_age is None and patient.date_of_birth:
                day = timezone.localtime(self.created_at).date()
                self.subject_age = max(0, min(patient.age_on(day), self.SUBJECT_AGE_CAP))
            # The newest assessment is the latest one: an older row being inserted (a backfill)
            # does not take the flag from a newer one.
            others = RiskAssessment.objects.filter(
                patient_id=self.patient_id, disease=self.disease, is_latest=True
            )
            newer = others.filter(created_at__gt=self.created_at).exists()
            self.is_latest = not newer
            if not newer:
                others.update(is_latest=False)
        super().save(*args, **kwargs)
