"""Pass 2 of an import: the staged rows written into the record, one transaction per patient,
every write through patients.services (which validate, keep the blind indexes and care-team
grants in step, and audit each write as the importing user).

Per patient, in the order patients first appear in the file:
- a patient rejected while the file was read: each of its entries is rejected with the reason
  "its patient was rejected" (an entry is never imported onto a patient the file got wrong);
- its MRN names a patient the importing user may see: matched (not duplicated, not changed),
  provided the birth date agrees; an MRN of a patient outside the user's care teams is rejected
  saying only that; otherwise the patient is created in the job's care team;
- then its entries: a second entry with the natural key of an earlier one in the file is a
  duplicate (rejected, naming the first row); one already in the record is counted "already
  present" (that is what makes a re-import create nothing); the rest are written. An entry the
  service refuses is rejected with the service's reason; the patient's other rows still land.
Entries whose patient is not in the file are grouped by the MRN identifier they name (an existing
patient the user may see) or rejected when they name none.

Natural keys (what "the same entry" means): observation (code, instant, value in the canonical
unit); condition (system, code, onset date); allergy (substance, noted on); medication (name,
code, start date); family history (relation, condition code, condition). A matching entry is
present as it is: an import adds, it never updates.
"""

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction

from accounts.models import User
from interop.importing.records import EntryRow, PatientRow, Rejection, file_field, value_excerpt
from interop.importing.selectors import patient_by_mrn_for_import
from interop.importing.staging import Staging
from patients import services as record
from patients.models import (
    Allergy,
    CareTeam,
    Condition,
    FamilyHistory,
    Medication,
    Observation,
    Patient,
    RecordEntry,
    Source,
)

WRITERS: dict[str, Callable[..., RecordEntry]] = {
    "observation": record.observation_record,
    "condition": record.condition_add,
    "allergy": record.allergy_add,
    "medication": record.medication_add,
    "family_history": record.family_history_add,
}
PROGRESS_EVERY_S = 1.0


class LostClaim(Exception):
    """Another worker holds the job now (this one's lease ran out): stop writing."""


@dataclass
class Tally:
    """What the run did; written to the job as it goes."""

    patients_created: int = 0
    patients_matched: int = 0
    observations_imported: int = 0
    observations_present: int = 0
    entries_imported: int = 0
    entries_present: int = 0
    rejected: int = 0
    rows_done: int = 0

    def fields(self) -> dict[str, int]:
        return asdict(self)


def _present(patient: Patient, entry: EntryRow) -> bool:
    f = entry.fields
    if entry.kind == "observation":
        rows: Any = Observation.objects.filter(
            code=f["code"], effective_at=f["effective_at"], value=f["value"]
        )
    elif entry.kind == "condition":
        rows = Condition.objects.filter(
            system=f["system"], code=f["code"], onset_date=f["onset_date"]
        )
    elif entry.kind == "allergy":
        rows = Allergy.objects.filter(substance__iexact=f["substance"], noted_on=f["noted_on"])
    elif entry.kind == "medication":
        rows = Medication.objects.filter(
            name__iexact=f["name"], code=f["code"], start_date=f["start_date"]
        )
    else:
        rows = FamilyHistory.objects.filter(
            relation=f["relation"],
            condition_code=f["condition_code"],
            condition_display__iexact=f["condition_display"],
        )
    return bool(rows.filter(patient=patient).exists())


def _refused(
    error: ValidationError,
    *,
    kind: str,
    row: int,
    resource: str,
    ident: str,
    mrn: str,
    fields: dict[str, Any],
) -> Rejection:
    """A service's ValidationError as a rejection naming the file's field."""
    if hasattr(error, "error_dict"):
        name, messages = next(iter(error.message_dict.items()))
    else:
        name, messages = "", error.messages
    return Rejection(
        row,
        resource,
        file_field(kind, resource, name) if name != "__all__" else "",
        " ".join(messages),
        value_excerpt(fields.get(name)),
        ident,
        mrn,
    )


def _subject_field(resource: str) -> str:
    """Where a row of `resource` names its patient."""
    if resource == "CSV row":
        return "mrn"
    return "patient" if resource in ("AllergyIntolerance", "FamilyMemberHistory") else "subject"


DUPLICATE_FIELD = {
    "observation": "code",
    "condition": "code",
    "allergy": "code",
    "medication": "medicationCodeableConcept",
    "family_history": "relationship",
}


class Importer:
    """Writes one staged file as `by`, new patients joining `team`. `hold` is called at the start
    of each patient's transaction (it locks the job row and raises LostClaim if the claim is
    gone); `report` is given the tally about once a second, between transactions."""

    def __init__(
        self,
        *,
        staging: Staging,
        by: User,
        team: CareTeam,
        hold: Callable[[], None],
        report: Callable[[Tally], None],
    ) -> None:
        self.staging = staging
        self.by = by
        self.team = team
        self.hold = hold
        self.report = report
        self.tally = Tally(rejected=staging.rejected_count)
        self._reported_at = 0.0

    def run(self) -> Tally:
        for staged in self.staging.patients():
            if staged.rejected:
                self._reject_all(
                    self.staging.entries_of(staged.ord),
                    f"Its patient (row {staged.patient.row}) was rejected.",
                )
                self.tally.rows_done += 1
            else:
                with transaction.atomic():
                    self.hold()
                    self._patient_group(staged.patient, self.staging.entries_of(staged.ord))
            self._progress()
        self._reject_all(
            self.staging.ambiguous_entries(),
            "The patient it refers to is ambiguous: two Patients of this file have its id or "
            "fullUrl.",
        )
        for subject in self.staging.orphan_subjects():
            self._orphans(subject)
            self._progress()
        self.report(self.tally)
        return self.tally

    def _progress(self) -> None:
        now = time.monotonic()
        if now - self._reported_at >= PROGRESS_EVERY_S:
            self._reported_at = now
            self.report(self.tally)

    def _reject(self, rejection: Rejection) -> None:
        self.staging.reject(rejection)
        self.tally.rejected += 1

    def _reject_all(self, entries: Iterable[EntryRow], reason: str, mrn: str = "") -> None:
        for entry in entries:
            self._reject(
                Rejection(
                    entry.row,
                    entry.resource,
                    _subject_field(entry.resource),
                    reason,
                    "",
                    entry.ident,
                    mrn or entry.subject_mrn,
                )
            )
            self.tally.rows_done += 1

    def _patient_group(self, row: PatientRow, entries: Iterator[EntryRow]) -> None:
        self.tally.rows_done += 1
        patient, created, refusal = self._patient(row)
        if patient is None:
            assert refusal is not None
            self._reject(refusal)
            self._reject_all(entries, f"Its patient (row {row.row}) was rejected.", row.mrn)
            return
        group = f"p{row.row}"
        for entry in entries:
            self._entry(patient, entry, group=group, created=created)

    def _patient(self, row: PatientRow) -> tuple[Patient | None, bool, Rejection | None]:
        """(patient, created, None), or (None, False, why it was rejected)."""
        fields = row.fields
        assert fields is not None
        match = patient_by_mrn_for_import(user=self.by, mrn=str(fields["mrn"]))
        where = file_field("patient", row.resource, "mrn")
        if match.patient is not None:
            if match.patient.date_of_birth != fields["date_of_birth"]:
                return (
                    None,
                    False,
                    Rejection(
                        row.row,
                        row.resource,
                        file_field("patient", row.resource, "date_of_birth"),
                        "The MRN is already used in the portal by a patient with another birth "
                        "date: check the MRN.",
                        value_excerpt(str(fields["date_of_birth"])),
                        row.ident,
                        row.mrn,
                    ),
                )
            self.tally.patients_matched += 1
            return match.patient, False, None
        if match.elsewhere:
            return (
                None,
                False,
                Rejection(
                    row.row,
                    row.resource,
                    where,
                    "MRN belongs to a patient outside your care teams.",
                    "",
                    row.ident,
                    row.mrn,
                ),
            )
        try:
            patient = record.patient_create(by=self.by, care_teams=[self.team], **fields)
        except ValidationError as error:
            return (
                None,
                False,
                _refused(
                    error,
                    kind="patient",
                    row=row.row,
                    resource=row.resource,
                    ident=row.ident,
                    mrn=row.mrn,
                    fields=fields,
                ),
            )
        except IntegrityError:  # the same MRN created by another import since the lookup
            return (
                None,
                False,
                Rejection(
                    row.row,
                    row.resource,
                    where,
                    "A patient with this MRN was created meanwhile; import the file again.",
                    "",
                    row.ident,
                    row.mrn,
                ),
            )
        self.tally.patients_created += 1
        return patient, True, None

    def _entry(self, patient: Patient, entry: EntryRow, *, group: str, created: bool) -> None:
        self.tally.rows_done += 1
        earlier = self.staging.first_row(group, entry)
        if earlier is not None:
            self._reject(
                Rejection(
                    entry.row,
                    entry.resource,
                    file_field(entry.kind, entry.resource, DUPLICATE_FIELD[entry.kind]),
                    f"Duplicate of row {earlier} in this file.",
                    "",
                    entry.ident,
                    entry.subject_mrn,
                )
            )
            return
        observation = entry.kind == "observation"
        # A patient this run created had nothing before it: no query needed.
        if not created and _present(patient, entry):
            if observation:
                self.tally.observations_present += 1
            else:
                self.tally.entries_present += 1
            return
        try:
            WRITERS[entry.kind](by=self.by, patient=patient, source=Source.IMPORT, **entry.fields)
        except ValidationError as error:
            self._reject(
                _refused(
                    error,
                    kind=entry.kind,
                    row=entry.row,
                    resource=entry.resource,
                    ident=entry.ident,
                    mrn=entry.subject_mrn,
                    fields=entry.fields,
                )
            )
            return
        except (IntegrityError, DataError):
            self._reject(
                Rejection(
                    entry.row,
                    entry.resource,
                    "",
                    "The database refused this entry.",
                    "",
                    entry.ident,
                    entry.subject_mrn,
                )
            )
            return
        if observation:
            self.tally.observations_imported += 1
        else:
            self.tally.entries_imported += 1

    def _orphans(self, subject: bytes) -> None:
        """Entries whose patient is not in the file: by MRN, a patient the user may see."""
        entries = self.staging.entries_of_subject(subject)
        first = next(entries, None)
        if first is None:
            return
        rows = itertools.chain([first], entries)
        if not first.subject_mrn:
            self._reject_all(
                rows,
                "The patient it refers to is not in this file (refer to an entry's fullUrl, "
                "to Patient/<id> of a Patient in the file, or give the MRN as identifier).",
            )
            return
        with transaction.atomic():
            self.hold()
            match = patient_by_mrn_for_import(user=self.by, mrn=first.subject_mrn)
            if match.patient is None:
                reason = (
                    "MRN belongs to a patient outside your care teams."
                    if match.elsewhere
                    else "No patient with this MRN in the file or in your care teams."
                )
                self._reject_all(rows, reason)
                return
            for entry in rows:
                self._entry(match.patient, entry, group=f"s{subject.hex()}", created=False)
