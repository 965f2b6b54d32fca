"""Joining: invitations by email link, self-registration, and an administrator's approval."""

import logging
import secrets
from datetime import timedelta
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.mail import send_mail
from django.db import IntegrityError, models, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.audit import audit_record
from accounts.models import AuditAction, Invitation, Role, User
from accounts.selectors import token_sha256
from accounts.services.errors import AccountError, EmailAlreadyRegistered, InvitationNotUsable
from accounts.services.roles import user_set_role

logger = logging.getLogger(__name__)


def _mail_after_commit(
    *, to: list[str], subject: str, template: str, context: dict[str, Any], ref: str
) -> None:
    """Send an email once the transaction has committed; `ref` (an id) names it in the logs."""
    body = render_to_string(template, context)

    def send() -> None:
        try:
            send_mail(subject, body, None, to)
        except Exception:
            # The change is committed and stays; the log names the object, never the address.
            logger.exception("accounts email not sent: %s", ref)

    # After commit: a rolled-back change must not have announced itself by email.
    transaction.on_commit(send)


INVITATION_LIFETIME = timedelta(days=3)


def _user_insert(user: User) -> None:
    """Save a new user; a taken address (even one taken a moment ago) is EmailAlreadyRegistered."""
    if User.objects.filter(email=user.email).exists():
        raise EmailAlreadyRegistered("A user with this email address already exists.")
    try:
        with transaction.atomic():  # a savepoint, so the caller's transaction survives
            user.save()
    except IntegrityError as error:
        raise EmailAlreadyRegistered("A user with this email address already exists.") from error


@transaction.atomic
def invitation_create(
    *, by: User, email: str, role: Role | str, base_url: str, ip: str | None = None
) -> Invitation:
    """Invite `email` to join with `role`, and email them a one-time link.

    Only the SHA-256 of the link's token is stored; the token itself exists only in the email.
    Raises EmailAlreadyRegistered when the address already has an account.
    """
    email = email.strip().lower()
    if User.objects.filter(email=email).exists():
        raise EmailAlreadyRegistered("A user with this email address already exists.")
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    invitation = Invitation.objects.create(
        email=email,
        role=Role(role),
        token_sha256=token_sha256(token),
        created_by=by,
        created_at=now,
        expires_at=now + INVITATION_LIFETIME,
    )
    link = base_url.rstrip("/") + reverse("accounts:invite_accept", kwargs={"token": token})
    _mail_after_commit(
        to=[email],
        subject="You are invited to Health Analysis Mentor",
        template="accounts/email/invitation.txt",
        ref=f"invitation {invitation.public_id}",
        context={
            "link": link,
            "role": invitation.get_role_display(),
            "expires_at": invitation.expires_at,
        },
    )
    audit_record(
        actor=by, action=AuditAction.CREATE, obj=invitation, ip=ip, detail={"role": str(role)}
    )
    return invitation


def invitation_check(*, invitation: Invitation | None) -> Invitation:
    """Raise InvitationNotUsable unless the invitation exists, is unused and has not expired."""
    if invitation is None:
        raise InvitationNotUsable("invalid")
    if invitation.accepted_at is not None:
        raise InvitationNotUsable("used")
    if invitation.expires_at <= timezone.now():
        raise InvitationNotUsable("expired")
    return invitation


@transaction.atomic
def invitation_accept(*, token: str, full_name: str, password: str, ip: str | None = None) -> User:
    """Turn an invitation into an active, approved user with the invited role.

    The invitation row is locked, so a link clicked twice creates one user. Raises
    InvitationNotUsable, EmailAlreadyRegistered, or ValidationError for a weak password.
    """
    invitation = invitation_check(
        invitation=Invitation.objects.select_for_update()
        .filter(token_sha256=token_sha256(token))
        .first()
    )
    user = User(email=invitation.email, full_name=full_name.strip(), role=invitation.role)
    validate_password(password, user=user)
    now = timezone.now()
    user.set_password(password)
    user.is_active = True
    user.approved_at = now
    user.approved_by = invitation.created_by
    _user_insert(user)
    user_set_role(user=user, role=invitation.role)
    invitation.accepted_at = now
    invitation.accepted_user = user
    invitation.save(update_fields=["accepted_at", "accepted_user"])
    audit_record(
        actor=None,
        action=AuditAction.CREATE,
        obj=user,
        ip=ip,
        detail={"via": "invitation", "invitation": str(invitation.public_id), "role": user.role},
    )
    return user


# Roles anyone may ask for; an administrator's account starts from an invitation only.
SELF_REGISTRATION_ROLES = tuple(role for role in Role if role != Role.ADMIN)


@transaction.atomic
def user_register(
    *,
    email: str,
    full_name: str,
    role: Role | str,
    password: str,
    base_url: str = "",
    ip: str | None = None,
) -> User:
    """Self-registration: an inactive, unapproved user with the requested role.

    Nobody can sign in with it until an administrator approves it (`user_approve`). Raises
    EmailAlreadyRegistered, ValueError for a role that cannot be self-requested, or
    ValidationError for a weak password.
    """
    role = Role(role)
    if role not in SELF_REGISTRATION_ROLES:
        raise ValueError("This role is granted by invitation only.")
    user = User(email=email.strip().lower(), full_name=full_name.strip(), role=role)
    validate_password(password, user=user)
    # Hashed before the address is checked: a taken address answers no faster than a free one.
    user.set_password(password)
    user.is_active = False
    user.approved_at = None
    _user_insert(user)
    user_set_role(user=user, role=role)
    audit_record(
        actor=None,
        action=AuditAction.CREATE,
        obj=user,
        ip=ip,
        detail={"via": "self_registration", "role": role.value},
    )
    admins = list(
        User.objects.filter(is_active=True)
        .filter(models.Q(role=Role.ADMIN) | models.Q(is_superuser=True))
        .values_list("email", flat=True)
    )
    if admins:
        _mail_after_commit(
            to=admins,
            subject="A registration is waiting for approval",
            template="accounts/email/registration_pending.txt",
            ref=f"registration of user {user.public_id}",
            context={"link": base_url.rstrip("/") + reverse("accounts:pending_users")},
        )
    return user


@transaction.atomic
def user_approve(*, user: User, by: User, base_url: str = "", ip: str | None = None) -> User:
    """Let a self-registered user in: active, approved now by `by`, in their role's Group."""
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_awaiting_approval:
        raise AccountError("This account is not waiting for approval.")
    user.is_active = True
    user.approved_at = timezone.now()
    user.approved_by = by
    user.save(update_fields=["is_active", "approved_at", "approved_by"])
    user_set_role(user=user, role=user.role)
    audit_record(
        actor=by, action=AuditAction.UPDATE, obj=user, ip=ip, detail={"change": "approved"}
    )
    _mail_after_commit(
        to=[user.email],
        subject="Your Health Analysis Mentor account is approved",
        template="accounts/email/approved.txt",
        ref=f"approval of user {user.public_id}",
        context={"link": base_url.rstrip("/") + reverse("accounts:login")},
    )
    return user


@transaction.atomic
def user_reject(*, user: User, by: User, ip: str | None = None) -> None:
    """Refuse a self-registration: the unapproved account is deleted, the email freed.

    Only an account still waiting for approval can be rejected; others are deactivated instead.
    """
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_awaiting_approval:
        raise AccountError("This account is not waiting for approval.")
    # Recorded first: the row the event names is about to go.
    audit_record(
        actor=by, action=AuditAction.DELETE, obj=user, ip=ip, detail={"change": "rejected"}
    )
    user.delete()
