"""The staging area of one import run: every row of the file, checked, spilled to a temporary
SQLite database, then read back grouped by patient. This is how an import stays in bounded
memory whatever the file's size and order.

Why: a Bundle may list a patient's resources anywhere (before its Patient, interleaved with other
patients'), and the import writes each patient in one transaction; grouping in memory would hold
the file. SQLite sorts on disk (its page cache is capped at a few MiB), so the worker holds one
row at a time, plus one patient's staging cursor while writing. Duplicates within the file (the
same entry twice, a Patient twice) are found through unique indexes, not Python sets.

Nothing in it is readable after the run: every row is sealed with AES-256-GCM under a key made for
the run that exists only in this process's memory, and the indexed names (MRNs, references,
natural keys) are HMACs under a second such key. The folder is removed when the run ends; one left
by a killed worker is unreadable and swept (interop.importing.files.work_sweep).
"""

import hmac
import os
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from interop.importing import records
from interop.importing.records import EntryRow, PatientRow, Rejection, Skipped, Staged

_SCHEMA = """
CREATE TABLE patients (ord INTEGER PRIMARY KEY, row INTEGER, mrn BLOB UNIQUE, digest BLOB,
                       rejected INTEGER, sealed BLOB);
CREATE TABLE aliases (alias BLOB PRIMARY KEY, ord INTEGER) WITHOUT ROWID;
CREATE TABLE entries (seq INTEGER PRIMARY KEY, subject BLOB, ord INTEGER, sealed BLOB);
CREATE TABLE rejections (seq INTEGER PRIMARY KEY, row INTEGER, sealed BLOB);
CREATE TABLE seen (grp TEXT, digest BLOB, row INTEGER, PRIMARY KEY (grp, digest)) WITHOUT ROWID;
"""
BATCH = 2000
# The patient of an alias two Patients of the file claim (see Staging._name).
AMBIGUOUS = -1
CACHE_KIB = 4096


@dataclass(frozen=True)
class StagedPatient:
    ord: int
    patient: PatientRow
    rejected: bool


class Staging:
    """A run's staging database in `folder` (which the caller removes)."""

    def __init__(self, folder: Path) -> None:
        self._aead = AESGCM(AESGCM.generate_key(bit_length=256))
        self._mac_key = os.urandom(32)
        self._db = sqlite3.connect(folder / "staging.sqlite3", isolation_level=None)
        for pragma in (
            "journal_mode=OFF",
            "synchronous=OFF",
            "temp_store=FILE",
            f"cache_size=-{CACHE_KIB}",
        ):
            self._db.execute(f"PRAGMA {pragma}")
        self._db.executescript(_SCHEMA)
        self._pending = 0
        self._nonce = 0
        self._conflict_row = -1
        self._db.execute("BEGIN")
        self.patients_count = 0
        self.entries_count = 0
        self.rejected_count = 0
        self.skipped: Counter[str] = Counter()

    # --- sealing ---

    def _seal(self, item: Staged) -> bytes:
        self._nonce += 1
        nonce = self._nonce.to_bytes(12, "big")
        return nonce + self._aead.encrypt(nonce, records.dumps(item), None)

    def _open(self, sealed: bytes) -> Staged:
        return records.loads(self._aead.decrypt(sealed[:12], sealed[12:], None))

    def mac(self, text: str) -> bytes:
        return hmac.digest(self._mac_key, text.encode(), "sha256")[:16]

    def _tick(self) -> None:
        self._pending += 1
        if self._pending >= BATCH:
            self._db.execute("COMMIT")
            self._db.execute("BEGIN")
            self._pending = 0

    # --- pass 1: add what the parser found ---

    def add(self, item: Staged) -> None:
        if isinstance(item, Rejection):
            self.reject(item)
        elif isinstance(item, Skipped):
            self.skipped[item.resource] += 1
        elif isinstance(item, PatientRow):
            self._add_patient(item)
        else:
            self._add_entry(item)
        self._tick()

    def reject(self, rejection: Rejection) -> None:
        self._db.execute(
            "INSERT INTO rejections (row, sealed) VALUES (?, ?)",
            (rejection.row, self._seal(rejection)),
        )
        self.rejected_count += 1

    def _insert_patient(self, patient: PatientRow, mrn: bytes | None, digest: bytes | None) -> int:
        cursor = self._db.execute(
            "INSERT INTO patients (row, mrn, digest, rejected, sealed) VALUES (?, ?, ?, ?, ?)",
            (patient.row, mrn, digest, int(patient.fields is None), self._seal(patient)),
        )
        self.patients_count += 1
        return int(cursor.lastrowid or 0)

    def _name(self, aliases: tuple[str, ...], ord_: int) -> bool:
        """Give `ord_` its aliases. An alias another patient of the file already has (two
        Patients with one id or fullUrl) becomes AMBIGUOUS: entries naming it cannot be placed.
        True when there was such a clash."""
        clash = False
        for alias in aliases:
            mac = self.mac(alias)
            held = self._db.execute("SELECT ord FROM aliases WHERE alias = ?", (mac,)).fetchone()
            if held is None:
                self._db.execute("INSERT INTO aliases (alias, ord) VALUES (?, ?)", (mac, ord_))
            elif held[0] != ord_:
                self._db.execute("UPDATE aliases SET ord = ? WHERE alias = ?", (AMBIGUOUS, mac))
                clash = True
        return clash

    def _add_patient(self, patient: PatientRow) -> None:
        if patient.fields is None:
            self._name(patient.aliases, self._insert_patient(patient, None, None))
            return
        mrn = self.mac(_mrn_alias(patient))
        digest = self.mac(records.natural_key_text("patient", _demographics(patient.fields)))
        earlier = self._db.execute(
            "SELECT ord, row, digest, sealed FROM patients WHERE mrn = ?", (mrn,)
        ).fetchone()
        if earlier is None:
            ord_ = self._insert_patient(patient, mrn, digest)
            if self._name(patient.aliases, ord_):
                self._db.execute("UPDATE patients SET rejected = 1 WHERE ord = ?", (ord_,))
                self.reject(
                    Rejection(
                        patient.row,
                        patient.resource,
                        "id",
                        "Another Patient of this file has the same id or fullUrl: the entries "
                        "that refer to it cannot be placed, and this Patient is not imported.",
                        "",
                        patient.ident,
                        patient.mrn,
                    )
                )
            return
        ord_, row, earlier_digest, sealed = earlier
        repeated = patient.resource == "CSV row"  # the template repeats a patient on each line
        if earlier_digest == digest:
            self._name(patient.aliases, ord_)
            if not repeated:
                self.reject(
                    Rejection(
                        patient.row,
                        patient.resource,
                        "identifier",
                        f"Duplicate of the Patient at row {row} (same MRN and details); "
                        "its entries are imported with that one.",
                        "",
                        patient.ident,
                        patient.mrn,
                    )
                )
            return
        first = self._open(sealed)
        assert isinstance(first, PatientRow) and first.fields is not None
        differing = [
            records.file_field("patient", patient.resource, k)
            for k, v in patient.fields.items()
            if first.fields.get(k) != v
        ]
        reason = (
            f"The same MRN as row {row} with different {', '.join(differing)}: "
            f"{'this line is' if repeated else 'this Patient and its entries are'} not imported."
        )
        self.reject(
            Rejection(
                patient.row, patient.resource, differing[0], reason, "", patient.ident, patient.mrn
            )
        )
        if repeated:
            self._conflict_row = patient.row
        else:
            rejected = PatientRow(
                patient.row, patient.resource, patient.ident, (), None, patient.mrn
            )
            aliases = tuple(a for a in patient.aliases if not a.startswith("mrn:"))
            self._name(aliases, self._insert_patient(rejected, None, None))

    def _add_entry(self, entry: EntryRow) -> None:
        if entry.row == self._conflict_row and entry.resource == "CSV row":
            self.reject(
                Rejection(
                    entry.row,
                    entry.resource,
                    "mrn",
                    "Not imported: this line's patient columns differ from the patient's first "
                    "line.",
                    "",
                    "",
                    entry.subject_mrn,
                )
            )
            return
        self._db.execute(
            "INSERT INTO entries (subject, sealed) VALUES (?, ?)",
            (self.mac(entry.subject), self._seal(entry)),
        )
        self.entries_count += 1

    def finish(self) -> None:
        """End of pass 1: every entry learns its patient in the file (if there), and the indexes
        that pass 2 reads in order are built (an on-disk sort)."""
        self._db.execute("COMMIT")
        self._db.execute(
            "UPDATE entries SET ord = (SELECT a.ord FROM aliases a WHERE a.alias = entries.subject)"
        )
        self._db.execute("CREATE INDEX entries_by_patient ON entries (ord, seq)")
        self._db.execute("CREATE INDEX entries_by_subject ON entries (subject, seq)")

    # --- pass 2: read back by patient ---

    def patients(self) -> Iterator[StagedPatient]:
        """The file's patients in the order they first appear."""
        cursor = self._db.execute("SELECT ord, rejected, sealed FROM patients ORDER BY ord")
        for ord_, rejected, sealed in cursor:
            patient = self._open(sealed)
            assert isinstance(patient, PatientRow)
            yield StagedPatient(int(ord_), patient, bool(rejected))

    def entries_of(self, ord_: int) -> Iterator[EntryRow]:
        cursor = self._db.execute("SELECT sealed FROM entries WHERE ord = ? ORDER BY seq", (ord_,))
        for (sealed,) in cursor:
            entry = self._open(sealed)
            assert isinstance(entry, EntryRow)
            yield entry

    def ambiguous_entries(self) -> Iterator[EntryRow]:
        """Entries that name an alias two Patients of the file claim."""
        return self.entries_of(AMBIGUOUS)

    def orphan_subjects(self) -> Iterator[bytes]:
        """Subjects (as stored) of entries whose patient is not in the file."""
        cursor = self._db.execute(
            "SELECT DISTINCT subject FROM entries WHERE ord IS NULL ORDER BY subject"
        )
        for (subject,) in cursor:
            yield bytes(subject)

    def entries_of_subject(self, subject: bytes) -> Iterator[EntryRow]:
        cursor = self._db.execute(
            "SELECT sealed FROM entries WHERE ord IS NULL AND subject = ? ORDER BY seq",
            (subject,),
        )
        for (sealed,) in cursor:
            entry = self._open(sealed)
            assert isinstance(entry, EntryRow)
            yield entry

    def first_row(self, group: str, entry: EntryRow) -> int | None:
        """None the first time an entry of this natural key is met in `group` (a patient);
        afterwards, the row where it was first met."""
        digest = self.mac(records.natural_key_text(entry.kind, entry.key))
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO seen (grp, digest, row) VALUES (?, ?, ?)",
            (group, digest, entry.row),
        )
        if cursor.rowcount:
            return None
        found = self._db.execute(
            "SELECT row FROM seen WHERE grp = ? AND digest = ?", (group, digest)
        ).fetchone()
        return int(found[0]) if found else None

    def rejections(self) -> Iterator[Rejection]:
        """Every rejection, in the order of the file's rows."""
        self._db.execute("CREATE INDEX IF NOT EXISTS rejections_by_row ON rejections (row, seq)")
        for (sealed,) in self._db.execute("SELECT sealed FROM rejections ORDER BY row, seq"):
            rejection = self._open(sealed)
            assert isinstance(rejection, Rejection)
            yield rejection

    def close(self) -> None:
        self._db.close()


def _mrn_alias(patient: PatientRow) -> str:
    return next(a for a in patient.aliases if a.startswith("mrn:"))


def _demographics(fields: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(fields[k] for k in sorted(fields))
