"""API tokens (DRF authtoken): one per user, its key shown once when issued."""

from django.db import transaction
from rest_framework.authtoken.models import Token

from accounts.audit import audit_record
from accounts.models import AuditAction, User


@transaction.atomic
def api_token_create(*, user: User, ip: str | None = None) -> str:
    """Issue the user's API token, replacing any previous one; the key is returned to show once."""
    replaced, _ = Token.objects.filter(user=user).delete()
    token = Token.objects.create(user=user)
    audit_record(
        actor=user,
        action=AuditAction.CREATE,
        obj=user,
        ip=ip,
        detail={"change": "api_token_created", "replaced": bool(replaced)},
    )
    return token.key


@transaction.atomic
def api_token_revoke(*, user: User, ip: str | None = None, reason: str = "") -> bool:
    """Delete the user's API token; False when there was none.

    Without `reason` the holder revoked it; with one the portal did (actor None in the trail).
    """
    deleted, _ = Token.objects.filter(user=user).delete()
    if deleted:
        detail = {"change": "api_token_revoked"}
        if reason:
            detail["reason"] = reason
        audit_record(
            actor=None if reason else user,
            action=AuditAction.DELETE,
            obj=user,
            ip=ip,
            detail=detail,
        )
    return bool(deleted)
