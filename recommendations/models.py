"""Recommendations made for patients, clinicians' decisions on them, benefit-model versions and
CDS Hooks clients.

A Recommendation is one rule's finding for one patient. Invariant: at most one *current*
recommendation per (patient, rule); when the rule's advice changes (another `action`), the old row
stops being current and a new one is made, so a decision always refers to the advice that was
shown. Every decision (from the portal or from an EHR through CDS Hooks) is a Feedback row: the
acceptance rates per rule are counted from them.
"""

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from patients.models import Patient


class Recommendation(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting decision"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="recommendations")
    rule_id = models.CharField(max_length=60, db_index=True)
    title = models.CharField(max_length=200)
    action = models.TextField()
    category = models.CharField(max_length=30)
    urgency = models.PositiveSmallIntegerField(help_text="1 routine, 2 soon, 3 urgent")
    strength = models.CharField(max_length=10)
    evidence = models.CharField(max_length=60)
    source = models.JSONField(help_text="{guideline, year, section, url}")
    reasons = models.JSONField(help_text="[{text, code, value, at}]")
    suppressed = models.JSONField(default=list, blank=True, help_text="[{option, reason}]")
    suggestions = models.JSONField(default=list, blank=True)
    details = models.JSONField(default=dict, blank=True)
    benefit = models.JSONField(null=True, blank=True, help_text="BenefitEstimate as a dict")
    illustrative = models.BooleanField(default=False)
    illustrative_note = models.CharField(max_length=300, blank=True)
    rank = models.PositiveSmallIntegerField(default=0, help_text="0 = first")
    # sha256 of rule_id + action + suppressed options: the advice a decision applies to
    fingerprint = models.CharField(max_length=64)
    is_current = models.BooleanField(default=True, db_index=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    evaluated_at = models.DateTimeField(default=timezone.now)
    retired_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decline_reason = models.CharField(max_length=30, blank=True)
    decline_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["patient", "rank"]
        constraints = [
            models.UniqueConstraint(
                fields=["patient", "rule_id"],
                condition=Q(is_current=True),
                name="one_current_recommendation_per_rule",
            )
        ]
        indexes = [models.Index(fields=["patient", "is_current", "rank"])]

    def __str__(self) -> str:
        return f"Recommendation {self.public_id} ({self.rule_id})"


class DeclineReason(models.TextChoices):
    NOT_APPLICABLE = "not_applicable", "Does not apply to this patient"
    CONTRAINDICATED = "contraindicated", "Contraindicated (not in the record)"
    ALREADY_DONE = "already_done", "Already done or in place"
    PATIENT_DECLINED = "patient_declined", "Patient declined"
    DATA_WRONG = "data_wrong", "Record data is wrong or out of date"
    DEFERRED = "deferred", "Deferred to another visit or specialist"
    OTHER = "other", "Other (say why)"


class Feedback(models.Model):
    """One decision on a recommendation: in the portal (`user`) or from an EHR (`client`,
    CDS Hooks feedback: accepted / overridden with overrideReason)."""

    class Outcome(models.TextChoices):
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined / overridden"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    recommendation = models.ForeignKey(
        Recommendation, null=True, blank=True, on_delete=models.CASCADE, related_name="feedback"
    )
    rule_id = models.CharField(max_length=60, db_index=True)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason_code = models.CharField(max_length=60, blank=True)
    reason_text = models.CharField(max_length=500, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    client = models.ForeignKey(
        "CdsClient", null=True, blank=True, on_delete=models.PROTECT, related_name="feedback"
    )
    card_uuid = models.UUIDField(null=True, blank=True, help_text="CDS Hooks card, if any")
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at"]
        constraints = [
            # An EHR may retry a feedback POST: one row per card and outcome.
            models.UniqueConstraint(
                fields=["card_uuid", "outcome"],
                condition=Q(card_uuid__isnull=False),
                name="one_feedback_per_card_outcome",
            )
        ]

    def __str__(self) -> str:
        return f"Feedback {self.public_id} ({self.rule_id}: {self.outcome})"


class EvaluationRun(models.Model):
    """When a patient's recommendations were last worked out (one row per patient)."""

    patient = models.OneToOneField(
        Patient, on_delete=models.CASCADE, related_name="recommendation_run"
    )
    evaluated_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.FloatField(default=0)
    findings = models.PositiveSmallIntegerField(default=0)

    def __str__(self) -> str:
        return f"Evaluation of {self.patient_id} at {self.evaluated_at:%Y-%m-%d %H:%M}"


class BenefitModelVersion(models.Model):
    """A trained treatment-benefit model (recommendations.ml.benefit): artifact folder under
    BENEFIT_MODEL_ROOT, its manifest copied at registration. At most one active per name."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=60)  # e.g. "gbsg2_hormonal"
    version = models.CharField(max_length=60)
    artifact_dir = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64)
    manifest = models.JSONField()
    is_active = models.BooleanField(default=False)
    registered_at = models.DateTimeField(default=timezone.now)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "-registered_at"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="unique_benefit_version"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(is_active=True), name="one_active_benefit_model"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class CdsClient(models.Model):
    """An EHR allowed to call our CDS Hooks services. It signs each call with a JWT (RS384 or
    ES384, as the CDS Hooks spec asks) whose `iss` is `issuer`; we verify it with `public_key_pem`.
    The EHR's patients are its own: a call reads only the FHIR context it sends."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120)
    issuer = models.CharField(max_length=300, unique=True)
    public_key_pem = models.TextField()
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = "CDS Hooks client"

    def __str__(self) -> str:
        return self.name


class CdsCard(models.Model):
    """A card we returned to an EHR: its uuid lets the feedback endpoint find the rule it came
    from (the EHR sends back only the card's uuid)."""

    uuid = models.UUIDField(primary_key=True)
    client = models.ForeignKey(CdsClient, on_delete=models.CASCADE, related_name="cards")
    service_id = models.CharField(max_length=60)
    rule_id = models.CharField(max_length=60)
    hook_instance = models.CharField(max_length=100)
    issued_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return f"CDS card {self.uuid} ({self.rule_id})"
