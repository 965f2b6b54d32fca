"""Appending to and verifying the audit trail.

Every append locks the chain head (an UPDATE first, which takes a row lock on PostgreSQL and the
write lock on SQLite), so concurrent writers cannot fork the chain.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import AuditAction, AuditChainHead, AuditEvent, AuditOutcome, User

GENESIS_HASH = "0" * 64
_HEAD_PK = 1


def audit_event_hash(
    *,
    seq: int,
    at: datetime,
    actor_id: int | None,
    action: str,
    object_type: str,
    object_id: str,
    ip: str | None,
    outcome: str,
    detail: dict[str, Any],
    prev_hash: str,
) -> str:
    """SHA-256 over the canonical JSON of an event's fields, the previous hash included."""
    canonical = json.dumps(
        {
            "seq": seq,
            "at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "actor": actor_id,
            "action": action,
            "object_type": object_type,
            "object_id": object_id,
            "ip": ip,
            "outcome": outcome,
            "detail": detail,
            "prev": prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _object_ref(obj: models.Model | None) -> tuple[str, str]:
    if obj is None:
        return "", ""
    public_id = getattr(obj, "public_id", None)
    return obj._meta.label_lower, str(public_id if public_id is not None else obj.pk)


def audit_record(
    *,
    actor: User | None,
    action: AuditAction | str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    ip: str | None = None,
    outcome: AuditOutcome | str = AuditOutcome.SUCCESS,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. `detail` must hold no PHI: ids, field names, counts, paths of UUID URLs."""
    if obj is not None:
        object_type, object_id = _object_ref(obj)
    actor_id = actor.pk if actor is not None and actor.is_authenticated else None
    detail = detail or {}
    with transaction.atomic():
        now = timezone.now()
        locked = AuditChainHead.objects.filter(pk=_HEAD_PK).update(touched_at=now)
        if not locked:
            AuditChainHead.objects.get_or_create(pk=_HEAD_PK)
            AuditChainHead.objects.filter(pk=_HEAD_PK).update(touched_at=now)
        head = AuditChainHead.objects.get(pk=_HEAD_PK)
        seq = head.last_seq + 1
        fields: dict[str, Any] = {
            "seq": seq,
            "at": now,
            "actor_id": actor_id,
            "action": str(action),
            "object_type": object_type,
            "object_id": object_id,
            "ip": ip,
            "outcome": str(outcome),
            "detail": detail,
            "prev_hash": head.last_hash,
        }
        digest = audit_event_hash(**fields)
        event = AuditEvent.objects.create(hash=digest, **fields)
        AuditChainHead.objects.filter(pk=_HEAD_PK).update(last_seq=seq, last_hash=digest)
    return event


def client_ip(request: HttpRequest) -> str | None:
    """The peer address Django saw (a trusted proxy sets REMOTE_ADDR through the WSGI server)."""
    return request.META.get("REMOTE_ADDR") or None


def audit_request(
    request: HttpRequest,
    *,
    action: AuditAction | str,
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    outcome: AuditOutcome | str = AuditOutcome.SUCCESS,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """`audit_record` for the user and address of a request; adds the method and path."""
    user = getattr(request, "user", None)
    return audit_record(
        actor=user if user is not None and user.is_authenticated else None,
        action=action,
        obj=obj,
        object_type=object_type,
        object_id=object_id,
        ip=client_ip(request),
        outcome=outcome,
        detail={"method": request.method, "path": request.path, **(detail or {})},
    )


@dataclass(frozen=True)
class AuditVerification:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""


def audit_verify(*, batch_size: int = 2000) -> AuditVerification:
    """Walk the chain from the first event; report the first altered or missing row."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    rows = AuditEvent.objects.order_by("seq").values().iterator(chunk_size=batch_size)
    for row in rows:
        if row["seq"] != expected_seq:
            return AuditVerification(
                False, checked, expected_seq, f"event #{expected_seq} is missing"
            )
        if row["prev_hash"] != expected_prev:
            return AuditVerification(
                False, checked, row["seq"], f"event #{row['seq']} does not follow its predecessor"
            )
        recomputed = audit_event_hash(
            seq=row["seq"],
            at=row["at"],
            actor_id=row["actor_id"],
            action=row["action"],
            object_type=row["object_type"],
            object_id=row["object_id"],
            ip=row["ip"],
            outcome=row["outcome"],
            detail=row["detail"],
            prev_hash=row["prev_hash"],
        )
        if recomputed != row["hash"]:
            return AuditVerification(False, checked, row["seq"], f"event #{row['seq']} was altered")
        expected_prev = row["hash"]
        expected_seq += 1
        checked += 1
    head = AuditChainHead.objects.filter(pk=_HEAD_PK).first()
    if head is not None and head.last_seq >= expected_seq:
        return AuditVerification(
            False, checked, expected_seq, f"event #{expected_seq} is missing (the chain ends early)"
        )
    if head is not None and head.last_seq and head.last_hash != expected_prev:
        return AuditVerification(
            False, checked, head.last_seq, f"event #{head.last_seq} was altered"
        )
    return AuditVerification(True, checked)
