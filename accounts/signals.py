"""Sign-ins, sign-outs, failed sign-ins and lockouts go to the audit trail; a user who becomes an
administrator loses an API token issued without a second factor."""

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save, pre_save
from django.dispatch import receiver
from django.http import HttpRequest

from accounts.audit import audit_record, client_ip
from accounts.models import AuditAction, AuditOutcome, User
from accounts.services.api_tokens import api_token_revoke


def _ip(request: HttpRequest | None) -> str | None:
    return client_ip(request) if request is not None else None


@receiver(user_logged_in)
def _logged_in(sender: Any, request: HttpRequest | None, user: User, **_: Any) -> None:
    audit_record(actor=user, action=AuditAction.LOGIN, obj=user, ip=_ip(request))


@receiver(user_logged_out)
def _logged_out(sender: Any, request: HttpRequest | None, user: User | None, **_: Any) -> None:
    if user is not None:
        audit_record(actor=user, action=AuditAction.LOGOUT, obj=user, ip=_ip(request))


@receiver(user_login_failed)
def _login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **_: Any
) -> None:
    # The attempted login is a staff email address, never a password (Django masks it anyway).
    detail = {"username": str(credentials.get("username", ""))[:254]}
    if credentials.get("step"):  # a wrong second-factor code, after a correct password
        detail["step"] = str(credentials["step"])[:40]
    audit_record(
        actor=None,
        action=AuditAction.LOGIN_FAILED,
        object_type="accounts.user",
        ip=_ip(request),
        outcome=AuditOutcome.FAILURE,
        detail=detail,
    )


@receiver(user_locked_out)
def _locked_out(
    sender: Any, request: HttpRequest | None, username: str | None, ip_address: str | None, **_: Any
) -> None:
    audit_record(
        actor=None,
        action=AuditAction.LOCKOUT,
        object_type="accounts.user",
        ip=ip_address,
        outcome=AuditOutcome.DENIED,
        detail={"username": (username or "")[:254]},
    )


# Fields that decide User.must_use_two_factor.
_PRIVILEGE_FIELDS = frozenset({"role", "is_staff", "is_superuser"})


@receiver(pre_save, sender=User)
def _privilege_before(sender: Any, instance: User, update_fields: Any = None, **_: Any) -> None:
    if instance.pk is None or (update_fields is not None and not _PRIVILEGE_FIELDS & update_fields):
        return
    stored = User.objects.filter(pk=instance.pk).only(*_PRIVILEGE_FIELDS).first()
    instance._needed_two_factor = stored is None or stored.must_use_two_factor  # type: ignore[attr-defined]


@receiver(post_save, sender=User)
def _privilege_after(sender: Any, instance: User, created: bool, **_: Any) -> None:
    # A token issued to a clinician (maybe without any second factor) must not carry an
    # administrator's reach, whichever path made them one (role service, admin site, shell).
    needed = getattr(instance, "_needed_two_factor", True)
    instance.__dict__.pop("_needed_two_factor", None)
    if not created and not needed and instance.must_use_two_factor:
        api_token_revoke(user=instance, reason="became_administrator")
