"""Appending to and verifying the audit trail.

Every append locks the chain head row until it commits (SELECT ... FOR UPDATE on PostgreSQL; on
SQLite, which has no row locks, an UPDATE first, which takes the database's write lock), so
concurrent writers cannot fork the chain. The lock and the read of the head are one statement,
and on PostgreSQL the insert of the event and the advance of the head are one more (a
data-modifying WITH): an append, made on every read of PHI, is BEGIN, two statements and COMMIT
(it was six round trips), and writes one new version of the head row, not two.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connection, models, transaction
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


def _head_lock(now: datetime) -> tuple[int, str]:
    """Lock the chain head until the end of the transaction and read it, in one statement (the
    head row is created on first use)."""
    # SQL text: table names from the models' metadata, quoted; every value is a parameter.
    table = connection.ops.quote_name(AuditChainHead._meta.db_table)
    if connection.features.has_select_for_update:
        sql = f"SELECT last_seq, last_hash FROM {table} WHERE id = %s FOR UPDATE"  # noqa: S608
        params: list[Any] = [_HEAD_PK]
    else:
        sql = f"UPDATE {table} SET touched_at = %s WHERE id = %s RETURNING last_seq, last_hash"  # noqa: S608
        params = [connection.ops.adapt_datetimefield_value(now), _HEAD_PK]
    if not connection.features.can_return_columns_from_insert:  # SQLite before 3.35
        AuditChainHead.objects.get_or_create(pk=_HEAD_PK)
        AuditChainHead.objects.filter(pk=_HEAD_PK).update(touched_at=now)
        head = AuditChainHead.objects.get(pk=_HEAD_PK)
        return head.last_seq, head.last_hash
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        if row is None:
            AuditChainHead.objects.get_or_create(pk=_HEAD_PK)
            cursor.execute(sql, params)
            row = cursor.fetchone()
    return int(row[0]), str(row[1])


def _event_insert(fields: dict[str, Any]) -> AuditEvent:
    """Insert the event and advance the head to it. On PostgreSQL in one statement; elsewhere
    the ORM's INSERT, then an UPDATE. The caller holds the head's lock."""
    if connection.vendor != "postgresql":
        event = AuditEvent.objects.create(**fields)
        AuditChainHead.objects.filter(pk=_HEAD_PK).update(
            last_seq=fields["seq"], last_hash=fields["hash"], touched_at=fields["at"]
        )
        return event
    quote = connection.ops.quote_name
    columns, values = [], []
    for name, value in fields.items():
        # Each value prepared as the ORM's INSERT would (JSON for detail, inet for ip).
        field = AuditEvent._meta.get_field(name)
        assert isinstance(field, models.Field) and field.column
        columns.append(quote(field.column))
        values.append(field.get_db_prep_save(value, connection))
    head, events = quote(AuditChainHead._meta.db_table), quote(AuditEvent._meta.db_table)
    placeholders = ", ".join(["%s"] * len(values))
    sql = (
        f"WITH event AS (INSERT INTO {events} ({', '.join(columns)}) VALUES ({placeholders}) "  # noqa: S608
        "RETURNING seq, hash) "
        f"UPDATE {head} SET last_seq = event.seq, last_hash = event.hash, touched_at = %s "
        f"FROM event WHERE {head}.id = %s"
    )
    touched = connection.ops.adapt_datetimefield_value(fields["at"])
    with connection.cursor() as cursor:
        cursor.execute(sql, [*values, touched, _HEAD_PK])
        if cursor.rowcount != 1:
            raise RuntimeError("The audit chain head was not advanced.")
    event = AuditEvent(**fields)
    event._state.adding = False
    event._state.db = connection.alias
    return event


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
        last_seq, last_hash = _head_lock(now)
        seq = last_seq + 1
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
            "prev_hash": last_hash,
        }
        fields["hash"] = audit_event_hash(**fields)
        event = _event_insert(fields)
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
