"""`manage.py rotate_phi_key`: re-encrypt every PHI column under the newest key.

Procedure: put the new key first in PHI_ENCRYPTION_KEYS (keeping the old ones after it) on every
process, run this command, check with `--check`, then drop the old keys. Encrypted columns are found
generically: every concrete field of every installed model that is a PhiEncryptedMixin.

Each value is read as stored (ciphertext), opened with the key ring, and, unless the newest key
opened it, its plaintext bytes are encrypted under the newest key and written back as ciphertext
(an UPDATE of a binary value: the field's own encryption is not applied a second time, and
`auto_now` fields such as updated_at are not bumped: the record did not change). Rows go in primary
key order, a transaction per batch (rows locked FOR UPDATE where the database can), so an
interrupted run is simply run again: values already under the newest key are skipped.
"""

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, models, transaction
from django.db.models import ExpressionWrapper, F, Value

from accounts.audit import audit_record
from accounts.models import AuditAction
from patients.crypto import PhiDecryptionError, PhiEncryptedMixin, key_ring
from patients.models import Patient
from patients.services import _set_indexes, patient_reindex


def encrypted_fields() -> Iterator[tuple[type[models.Model], list[PhiEncryptedMixin]]]:
    """Each model with encrypted columns in its own table, and those columns."""
    for model in apps.get_models():
        if model._meta.proxy:
            continue
        found = [f for f in model._meta.local_concrete_fields if isinstance(f, PhiEncryptedMixin)]
        if found:
            yield model, found


@dataclass
class RotationCounts:
    rows: int = 0
    rows_reencrypted: int = 0
    rows_current: int = 0
    values_reencrypted: int = 0
    values_current: int = 0
    values_unreadable: int = 0
    unreadable_rows: list[str] = field(default_factory=list)  # "app.model pk=…": ids only

    def add(self, other: "RotationCounts") -> None:
        for name in ("rows", "rows_reencrypted", "rows_current"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.values_reencrypted += other.values_reencrypted
        self.values_current += other.values_current
        self.values_unreadable += other.values_unreadable
        self.unreadable_rows += other.unreadable_rows


def _raw(f: PhiEncryptedMixin) -> ExpressionWrapper:
    # The column as stored: a plain binary output field has no converter that would decrypt it.
    return ExpressionWrapper(F(f.attname), output_field=models.BinaryField())


def _binary(token: bytes) -> Value:
    return Value(token, output_field=models.BinaryField())


def rotate_model(
    model: type[models.Model],
    fields: list[PhiEncryptedMixin],
    *,
    batch_size: int,
    dry_run: bool,
) -> RotationCounts:
    """Re-encrypt (or, with dry_run, only count) `fields` of every row of `model`."""
    ring = key_ring()
    counts = RotationCounts()
    manager = model._base_manager
    last_pk: Any = None
    while True:
        with transaction.atomic():
            rows = manager.order_by("pk")
            if last_pk is not None:
                rows = rows.filter(pk__gt=last_pk)
            if not dry_run and connection.features.has_select_for_update:
                rows = rows.select_for_update()
            batch = list(rows.values_list("pk", *(_raw(f) for f in fields))[:batch_size])
            for pk, *tokens in batch:
                updates: dict[str, Value] = {}
                unreadable = False
                for f, token in zip(fields, tokens, strict=True):
                    if token is None:
                        continue
                    try:
                        plaintext, key_index = ring.decrypt(bytes(token))
                    except PhiDecryptionError:
                        counts.values_unreadable += 1
                        unreadable = True
                        continue
                    if key_index == 0:
                        counts.values_current += 1
                    else:
                        updates[f.attname] = _binary(ring.encrypt(plaintext))
                counts.rows += 1
                if unreadable:
                    counts.unreadable_rows.append(f"{model._meta.label_lower} pk={pk}")
                if updates:
                    counts.rows_reencrypted += 1
                    counts.values_reencrypted += len(updates)
                    if not dry_run:
                        manager.filter(pk=pk).update(**updates)
                elif not unreadable:
                    counts.rows_current += 1
        if len(batch) < batch_size:
            return counts
        last_pk = batch[-1][0]


def reindex_patients(*, batch_size: int, dry_run: bool) -> tuple[int, int]:
    """Recompute blind indexes; (patients whose indexes changed, patients already right)."""
    changed = unchanged = 0
    last_pk = 0
    names = ("mrn_index", "name_index", "family_name_index")
    while True:
        with transaction.atomic():
            batch = list(Patient.objects.filter(pk__gt=last_pk).order_by("pk")[:batch_size])
            for patient in batch:
                before = tuple(getattr(patient, name) for name in names)
                if dry_run:
                    _set_indexes(patient)
                else:
                    patient_reindex(patient=patient)
                if tuple(getattr(patient, name) for name in names) == before:
                    unchanged += 1
                else:
                    changed += 1
        if len(batch) < batch_size:
            return changed, unchanged
        last_pk = batch[-1].pk


class Command(BaseCommand):
    help = (
        "Re-encrypt every PHI column under the first key of PHI_ENCRYPTION_KEYS (older keys "
        "still decrypt). --check only counts what still needs the newest key (exit 1 if any); "
        "--reindex also recomputes the blind indexes after PHI_BLIND_INDEX_KEY changed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--check",
            action="store_true",
            help="Change nothing: report values not yet under the newest key; exit 1 if any.",
        )
        parser.add_argument(
            "--reindex",
            action="store_true",
            help="Also recompute blind indexes (with --check: count stale ones).",
        )
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, **options: Any) -> None:
        check, batch_size = options["check"], options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        total = RotationCounts()
        per_model: dict[str, dict[str, int]] = {}
        for model, fields in encrypted_fields():
            counts = rotate_model(model, fields, batch_size=batch_size, dry_run=check)
            total.add(counts)
            per_model[model._meta.label_lower] = {
                "rows": counts.rows,
                "rows_reencrypted": counts.rows_reencrypted,
                "rows_current": counts.rows_current,
                "values_unreadable": counts.values_unreadable,
            }
            verb = "need the newest key" if check else "re-encrypted"
            self.stdout.write(
                f"{model._meta.label_lower}: {counts.rows} rows, {counts.rows_reencrypted} {verb} "
                f"({counts.values_reencrypted} values), {counts.rows_current} already on the "
                f"newest key, {counts.values_unreadable} values no key opens."
            )
        stale: int | None = None  # patients whose blind indexes were (or, with --check, are) stale
        if options["reindex"] and total.values_unreadable:
            self.stderr.write("Blind indexes left as they are: some values no key opens.")
        elif options["reindex"]:
            stale, fresh = reindex_patients(batch_size=batch_size, dry_run=check)
            self.stdout.write(
                f"blind indexes: {stale} patients {'stale' if check else 'recomputed'}, "
                f"{fresh} already right."
            )
        keys = len(settings.PHI_ENCRYPTION_KEYS)
        if check:
            pending = total.values_reencrypted + total.values_unreadable + (stale or 0)
            if pending:
                parts = [f"{total.values_reencrypted} values still need the newest key"]
                if total.values_unreadable:
                    parts.append(f"{total.values_unreadable} values no configured key opens")
                if stale:
                    parts.append(f"{stale} patients have stale blind indexes")
                self.stdout.write(f"{'; '.join(parts)} ({keys} keys configured).")
            else:
                self.stdout.write("Every value is under the newest key.")
            self._report_unreadable(total)
            if pending:
                sys.exit(1)
            return
        detail: dict[str, Any] = {
            "rows": total.rows,
            "rows_reencrypted": total.rows_reencrypted,
            "rows_current": total.rows_current,
            "values_reencrypted": total.values_reencrypted,
            "values_unreadable": total.values_unreadable,
            "keys_configured": keys,
            "models": per_model,
        }
        if stale is not None:
            detail["patients_reindexed"] = stale
        audit_record(actor=None, action=AuditAction.UPDATE, object_type="phi.keys", detail=detail)
        self.stdout.write(
            f"Done: {total.rows_reencrypted} rows re-encrypted, {total.rows_current} already on "
            "the newest key. Once --check passes, older keys may be removed."
        )
        self._report_unreadable(total)
        if total.values_unreadable:
            raise CommandError(
                f"{total.values_unreadable} values could not be opened with any configured key."
            )

    def _report_unreadable(self, total: RotationCounts) -> None:
        if total.unreadable_rows:
            shown = ", ".join(total.unreadable_rows[:20])
            more = len(total.unreadable_rows) - 20
            self.stderr.write(
                f"Rows with values no configured key opens: {shown}"
                + (f" and {more} more" if more > 0 else "")
            )
