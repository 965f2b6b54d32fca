"""What a row of an import file becomes once read and checked: a patient, a record entry, a
rejection with its reason, or a resource skipped by design. Plain data, no database: the parsers
(interop.importing.fhir, interop.importing.tabular) make them, the staging area stores them and
interop.importing.apply writes them through patients.services.

Fields hold the values the services take (dates, datetimes, Decimals), already checked for
presence, type, length, code, unit and range; the services check again when they write.
"""

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

# Record entry kinds, in the order the importer writes a patient's entries.
KINDS = ("observation", "condition", "allergy", "medication", "family_history")
# How long a quoted value may be in the report (a 10 MB string is cut, never copied whole).
REPORT_VALUE_CHARS = 200


def value_excerpt(value: object) -> str:
    """`value` as the report quotes it: text, at most REPORT_VALUE_CHARS characters."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value[: REPORT_VALUE_CHARS + 1]
    else:
        text = json.dumps(value, default=str)[: REPORT_VALUE_CHARS + 1]
    return text if len(text) <= REPORT_VALUE_CHARS else text[:REPORT_VALUE_CHARS] + "…"


class RowError(ValueError):
    """A row that cannot be imported: the field at fault (as the file names it), the reason in
    words for the person who made the file, and the offending value (cut for the report)."""

    def __init__(self, field: str, reason: str, value: object = None) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        self.value = value_excerpt(value)


@dataclass(frozen=True)
class Rejection:
    """A row not imported, and why. `row` is the CSV line or the Bundle's entry number."""

    row: int
    resource: str
    field: str
    reason: str
    value: str = ""
    ident: str = ""
    mrn: str = ""

    @classmethod
    def of(
        cls, error: RowError, *, row: int, resource: str, ident: str = "", mrn: str = ""
    ) -> "Rejection":
        return cls(row, resource, error.field, error.reason, error.value, ident, mrn)


@dataclass(frozen=True)
class PatientRow:
    """A patient of the file. `aliases` are the names entries may refer to it by ("mrn:<MRN
    normalized>", "ref:Patient/<id>", "url:<fullUrl>"). `fields` is None when the patient was
    rejected (its aliases still name it, so that its entries are rejected with it)."""

    row: int
    resource: str
    ident: str
    aliases: tuple[str, ...]
    fields: dict[str, Any] | None
    mrn: str = ""


@dataclass(frozen=True)
class EntryRow:
    """A record entry of the file: `kind` (one of KINDS), the patient it belongs to (`subject`, an
    alias as in PatientRow), the service's keyword arguments, and its natural key (what makes two
    entries of one patient the same entry: the idempotency of a re-import)."""

    row: int
    resource: str
    ident: str
    kind: str
    subject: str
    fields: dict[str, Any]
    key: tuple[Any, ...]
    subject_mrn: str = ""  # the MRN when the subject is named by identifier only


@dataclass(frozen=True)
class Skipped:
    """A resource not imported by design (the portal's own derived results), not a rejection."""

    row: int
    resource: str


Staged = Rejection | PatientRow | EntryRow | Skipped


# --- a compact, typed JSON for the staging area --------------------------------------------------


def _encode(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"$t": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$n": str(value)}
    if isinstance(value, tuple | list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1:
            (tag, text), *_ = value.items()
            if tag == "$t":
                return dt.datetime.fromisoformat(text)
            if tag == "$d":
                return dt.date.fromisoformat(text)
            if tag == "$n":
                return Decimal(text)
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


_TYPES: dict[str, type] = {
    "R": Rejection,
    "P": PatientRow,
    "E": EntryRow,
    "S": Skipped,
}
_TAGS = {cls: tag for tag, cls in _TYPES.items()}


def dumps(item: Staged) -> bytes:
    """One staged item as bytes (dates, datetimes and Decimals keep their types)."""
    body = {name: _encode(getattr(item, name)) for name in item.__dataclass_fields__}
    return json.dumps([_TAGS[type(item)], body], separators=(",", ":")).encode()


def loads(data: bytes) -> Staged:
    tag, body = json.loads(data)
    cls = _TYPES[tag]
    values = {k: _decode(v) for k, v in body.items()}
    for name in ("aliases", "key"):
        if name in values and isinstance(values[name], list):
            values[name] = tuple(values[name])
    item: Staged = cls(**values)
    return item


def natural_key_text(kind: str, key: tuple[Any, ...]) -> str:
    """The natural key as one string (for the staging area's duplicate index)."""
    return json.dumps([kind, _encode(list(key))], separators=(",", ":"), sort_keys=True)


# Model field -> the field as a FHIR resource names it (CSV columns below), for the report.
FHIR_FIELDS: dict[str, dict[str, str]] = {
    "patient": {
        "mrn": "identifier.value",
        "given_name": "name.given",
        "family_name": "name.family",
        "date_of_birth": "birthDate",
        "sex": "gender",
        "phone": "telecom.phone",
        "email": "telecom.email",
        "address": "address",
    },
    "observation": {
        "code": "code",
        "value": "valueQuantity.value",
        "unit": "valueQuantity.unit",
        "effective_at": "effectiveDateTime",
    },
    "condition": {
        "system": "code.coding.system",
        "code": "code.coding.code",
        "display": "code.text",
        "onset_date": "onsetDateTime",
        "resolved_date": "abatementDateTime",
        "notes": "note",
    },
    "allergy": {
        "substance": "code.text",
        "code": "code.coding.code",
        "reaction": "reaction.manifestation",
        "severity": "reaction.severity",
        "noted_on": "onsetDateTime",
    },
    "medication": {
        "name": "medicationCodeableConcept.text",
        "code": "medicationCodeableConcept.coding.code",
        "dose": "dosage.doseAndRate.doseQuantity.value",
        "dose_unit": "dosage.doseAndRate.doseQuantity.unit",
        "frequency": "dosage.text",
        "route": "dosage.route",
        "start_date": "effectivePeriod.start",
        "end_date": "effectivePeriod.end",
    },
    "family_history": {
        "relation": "relationship",
        "condition_code": "condition.code.coding.code",
        "condition_display": "condition.code.text",
        "onset_age": "condition.onsetAge",
    },
}
CSV_FIELDS: dict[str, dict[str, str]] = {
    "patient": {"date_of_birth": "birth_date"},
    "observation": {
        "code": "observation_code",
        "value": "observation_value",
        "unit": "observation_unit",
        "effective_at": "observation_time",
    },
}


def file_field(kind: str, resource: str, name: str) -> str:
    """A model field of `kind` (or "patient") as the file names it, for the report."""
    table = CSV_FIELDS if resource == "CSV row" else FHIR_FIELDS
    return table.get(kind, {}).get(name, name)
