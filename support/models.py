"""Helpdesk tickets: a member of staff reports a problem, asks a question or flags an AI result
that looks wrong; administrators triage it (status, assignee) and reply.

What a person types (subject, description, replies) may name a patient however the form asks
them not to, so it is encrypted at rest like the record, and screenshots (which may show a
patient's page) are sealed like imaging originals (support.storage). A ticket names a patient only
when its author chose one they may see; a linked AI result records the model version that made
it, so that feedback is counted per version on the model-quality dashboard.
"""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import Role
from imaging.models import ImagingModelVersion, Study
from patients.crypto import EncryptedCharField, EncryptedTextField
from patients.models import Patient
from prediction.models import ModelVersion, RiskAssessment

SUBJECT_MAX = 200
DESCRIPTION_MAX = 5000
REPLY_MAX = 5000
PAGE_MAX = 300


class Ticket(models.Model):
    """One request for help, owned by the person who opened it.

    Invariants: `patient`, when set, was visible to `created_by` when the ticket was opened; a
    linked `risk_assessment` or `study` (at most one) belongs to `patient`, and
    `risk_model_version` / `imaging_model_version` and `model_label` are copies of the version
    that made it, taken at opening. `page` is a same-site path without a query string.
    `screenshot_name` is a random name under MEDIA_ROOT/support/, served only through the portal
    to the owner and administrators.
    """

    class Category(models.TextChoices):
        TECHNICAL = "technical", "Technical problem"
        QUESTION = "question", "Question"
        ACCESS = "access", "Account or access"
        DATA_CORRECTION = "data_correction", "Data correction"
        AI_RESULT = "ai_result", "AI result looks wrong"
        FEEDBACK = "feedback", "Feedback or suggestion"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        IN_PROGRESS = "in_progress", "In progress"
        WAITING = "waiting", "Waiting for user"
        RESOLVED = "resolved", "Resolved"
        CLOSED = "closed", "Closed"

    # Still needing someone's attention: what the dashboards call "open".
    ACTIVE_STATUSES = (Status.OPEN, Status.IN_PROGRESS, Status.WAITING)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="support_tickets"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)
    category = models.CharField(max_length=20, choices=Category.choices)
    subject = EncryptedCharField(max_length=SUBJECT_MAX)
    description = EncryptedTextField()
    page = models.CharField(
        max_length=PAGE_MAX, blank=True, help_text="The portal page it was opened from (a path)."
    )

    patient = models.ForeignKey(
        Patient, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    risk_assessment = models.ForeignKey(
        RiskAssessment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    study = models.ForeignKey(
        Study, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    risk_model_version = models.ForeignKey(
        ModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    imaging_model_version = models.ForeignKey(
        ImagingModelVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    model_label = models.CharField(
        max_length=130, blank=True, help_text="The model and version of the linked AI result."
    )

    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        limit_choices_to=models.Q(is_active=True)
        & (models.Q(is_superuser=True) | models.Q(role=Role.ADMIN)),
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    screenshot_name = models.CharField(max_length=200, blank=True)
    screenshot_type = models.CharField(max_length=20, blank=True)
    screenshot_bytes = models.PositiveIntegerField(null=True, blank=True)

    # For the owner's "new reply" mark: when support last answered, when the owner last looked.
    support_replied_at = models.DateTimeField(null=True, blank=True)
    owner_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["created_by", "created_at"]),
            models.Index(fields=["category", "risk_model_version"]),
            models.Index(fields=["category", "imaging_model_version"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(risk_assessment__isnull=True) | models.Q(study__isnull=True),
                name="ticket_one_result_at_most",
            )
        ]

    def __str__(self) -> str:
        # Never the subject: it may name a patient, and str() reaches logs and admin messages.
        return f"Ticket {self.reference}"

    @property
    def reference(self) -> str:
        """A short id people can read out on the phone (the public id's first 8 hex digits)."""
        return self.public_id.hex[:8].upper()

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def has_unseen_reply(self) -> bool:
        replied, seen = self.support_replied_at, self.owner_seen_at
        return replied is not None and (seen is None or seen < replied)


class TicketReply(models.Model):
    """One message on a ticket's thread. Internal notes (`is_internal`) are between
    administrators: the ticket's owner never sees them, in the portal or the API."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="replies")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = EncryptedTextField()
    is_internal = models.BooleanField(
        default=False, help_text="An internal note: seen by administrators only."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name_plural = "ticket replies"

    def __str__(self) -> str:
        return f"Reply {self.public_id}"
