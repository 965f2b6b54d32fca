"""FHIR R4 resources read back into the record's fields, and a Bundle streamed entry by entry.

Accepted: a Bundle of type collection, transaction, batch or searchset (FHIR's $everything answers
a searchset), its entries' resources being Patient, Observation, Condition, AllergyIntolerance,
MedicationStatement and FamilyMemberHistory: what interop.resources emits, so that our own export
imports back as the same record. RiskAssessment and DiagnosticReport are the portal's own derived
results (a model's output, a signed report): skipped, counted, never imported. Anything else is a
rejection naming its resourceType.

A resource refers to its patient by `subject` (`patient` for AllergyIntolerance and
FamilyMemberHistory): a reference to an entry's fullUrl or to `Patient/<id>`, or an identifier
with the MRN (system urn:healthmentor:mrn). Where a builder of interop.resources folds a field
into text, the reading here undoes exactly that (a medication's frequency is its dosage text less
the dose and route it repeats; an allergy reaction "Not recorded" is no reaction).

The Bundle is never loaded whole: ijson (its C backend) yields one entry at a time, and the
Bundle's own resourceType and type are read by parsers fed the same bytes, wherever they stand in
the object (JSON does not order keys).
"""

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

import ijson

from interop import resources as emitted
from interop.importing import values
from interop.importing.records import (
    EntryRow,
    PatientRow,
    Rejection,
    RowError,
    Skipped,
    Staged,
    value_excerpt,
)
from interop.importing.tabular import observation_key
from patients.models import Allergy, Condition, FamilyHistory, Medication

BUNDLE_TYPES = ("collection", "transaction", "batch", "searchset")
IMPORTED_TYPES = (
    "Patient",
    "Observation",
    "Condition",
    "AllergyIntolerance",
    "MedicationStatement",
    "FamilyMemberHistory",
)
SKIPPED_TYPES = ("RiskAssessment", "DiagnosticReport")
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
# FHIR Observation statuses whose value is not a result.
NOT_A_RESULT = ("entered-in-error", "cancelled")
READ_BYTES = 64 * 1024

_RELATIONS = {code: relation for relation, (code, _) in emitted.RELATION_CODES.items()}
# Other v3 RoleCodes a system may send, by the relation the record keeps.
_RELATIONS.update(
    {
        "NMTH": FamilyHistory.Relation.MOTHER,
        "NFTH": FamilyHistory.Relation.FATHER,
        "NSIS": FamilyHistory.Relation.SISTER,
        "NBRO": FamilyHistory.Relation.BROTHER,
        "SIB": FamilyHistory.Relation.OTHER,
        "CHILD": FamilyHistory.Relation.OTHER,
        "GRMTH": FamilyHistory.Relation.GRANDPARENT,
        "GRFTH": FamilyHistory.Relation.GRANDPARENT,
        "MGRMTH": FamilyHistory.Relation.GRANDPARENT,
        "MGRFTH": FamilyHistory.Relation.GRANDPARENT,
        "PGRMTH": FamilyHistory.Relation.GRANDPARENT,
        "PGRFTH": FamilyHistory.Relation.GRANDPARENT,
        "AUNT": FamilyHistory.Relation.AUNT_UNCLE,
        "UNCLE": FamilyHistory.Relation.AUNT_UNCLE,
        "MAUNT": FamilyHistory.Relation.AUNT_UNCLE,
        "PAUNT": FamilyHistory.Relation.AUNT_UNCLE,
        "MUNCLE": FamilyHistory.Relation.AUNT_UNCLE,
        "PUNCLE": FamilyHistory.Relation.AUNT_UNCLE,
    }
)
_ROUTES = {label.lower(): value for value, label in Medication.Route.choices}
_ROUTES.update({value: value for value in Medication.Route.values})
_PATIENT_REF = re.compile(r"(?:^|/)Patient/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


class BundleError(Exception):
    """The file as a whole cannot be imported (not JSON, not a Bundle, a Bundle type we do not
    import). `message` names no value of the file: it may be PHI."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# --- small readers -------------------------------------------------------------------------------


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _first(items: Any) -> dict[str, Any]:
    found = _list(items)
    return _obj(found[0]) if found else {}


def _coding(concept: Any, *, system: str | None = None) -> dict[str, Any]:
    """The concept's first coding (of `system` when given); {} when there is none."""
    for coding in _list(_obj(concept).get("coding")):
        if isinstance(coding, dict) and (system is None or coding.get("system") == system):
            return coding
    return {}


def _concept_text(concept: Any) -> Any:
    concept = _obj(concept)
    return concept.get("text") or _coding(concept).get("display")


def _opt_text(value: Any, *, field: str, max_length: int) -> str:
    return values.text(value, field=field, max_length=max_length, required=False)


def subject_alias(reference: Any, *, field: str) -> tuple[str, str]:
    """(alias, MRN) of a Reference to a patient: "url:<fullUrl>" for an absolute URL or a URN,
    "ref:Patient/<id>" for a relative reference (or an absolute one ending in Patient/<id>, when
    no entry has that fullUrl the id still names the Patient), "mrn:<MRN>" for an identifier.
    RowError when it names no patient."""
    ref = _obj(reference)
    if not ref:
        raise RowError(field, f"{field} (the patient) is missing.")
    target = ref.get("reference")
    if isinstance(target, str) and target.strip():
        target = target.strip()
        if len(target) > 512:
            raise RowError(f"{field}.reference", "The reference is too long.", target)
        if target.startswith("#"):
            raise RowError(f"{field}.reference", "A contained patient is not imported.", target)
        if target.startswith(("urn:uuid:", "urn:oid:")):
            return f"url:{target}", ""
        match = _PATIENT_REF.search(target)
        if match is None:
            raise RowError(f"{field}.reference", "The reference is not to a Patient.", target)
        return f"ref:Patient/{match[1]}", ""
    identifier = _obj(ref.get("identifier"))
    if identifier:
        mrn = values.mrn(identifier.get("value"), field=f"{field}.identifier.value")
        return values.mrn_alias(mrn), mrn
    raise RowError(field, f"{field} has neither a reference nor an MRN identifier.")


# --- Patient -------------------------------------------------------------------------------------


def _mrn_identifier(resource: dict[str, Any]) -> Any:
    identifiers = [i for i in _list(resource.get("identifier")) if isinstance(i, dict)]
    for identifier in identifiers:
        if identifier.get("system") == emitted.MRN_SYSTEM:
            return identifier.get("value")
    for identifier in identifiers:
        if _coding(identifier.get("type")).get("code") == "MR":
            return identifier.get("value")
    return None


def _address(resource: dict[str, Any]) -> Any:
    address = _first(resource.get("address"))
    if not address:
        return None
    if address.get("text"):
        return address["text"]
    parts = [*_list(address.get("line")), address.get("city"), address.get("postalCode")]
    parts.append(address.get("country"))
    return ", ".join(p for p in parts if isinstance(p, str) and p.strip()) or None


def patient_aliases(resource: dict[str, Any], full_url: Any) -> tuple[str, ...]:
    aliases = []
    if isinstance(full_url, str) and full_url.strip():
        url = full_url.strip()
        aliases.append(f"url:{url}")
        match = _PATIENT_REF.search(url)
        if match is not None:
            aliases.append(f"ref:Patient/{match[1]}")
    ident = resource.get("id")
    if isinstance(ident, str) and _PATIENT_REF.search(f"Patient/{ident}"):
        aliases.append(f"ref:Patient/{ident}")
    return tuple(dict.fromkeys(aliases))


def patient_fields(resource: dict[str, Any], *, today: dt.date) -> dict[str, Any]:
    """A Patient resource as patient_create's arguments, or RowError on the first bad field."""
    mrn = _mrn_identifier(resource)
    if mrn is None:
        raise RowError(
            "identifier",
            f"No MRN: an identifier with system {emitted.MRN_SYSTEM} (or of type MR) is needed.",
        )
    names = [n for n in _list(resource.get("name")) if isinstance(n, dict)]
    name = next((n for n in names if n.get("use") == "official"), names[0] if names else {})
    given = _list(name.get("given"))
    if any(not isinstance(g, str) for g in given):
        raise RowError("name.given", "name.given must be text.", given)
    telecom = [t for t in _list(resource.get("telecom")) if isinstance(t, dict)]
    phone = next((t.get("value") for t in telecom if t.get("system") == "phone"), None)
    email = next((t.get("value") for t in telecom if t.get("system") == "email"), None)
    tags = _list(_obj(resource.get("meta")).get("tag"))
    synthetic = any(
        isinstance(t, dict)
        and t.get("system") == emitted.SYNTHETIC_TAG["system"]
        and t.get("code") == emitted.SYNTHETIC_TAG["code"]
        for t in tags
    )
    return {
        "mrn": values.mrn(mrn, field="identifier.value"),
        "family_name": values.text(
            name.get("family"),
            field="name.family",
            max_length=values.MAX_LENGTH["family_name"],
        ),
        "given_name": values.text(
            " ".join(g.strip() for g in given if g.strip()),
            field="name.given",
            max_length=values.MAX_LENGTH["given_name"],
        ),
        "date_of_birth": values.birth_date(
            resource.get("birthDate"), field="birthDate", today=today
        ),
        "sex": values.sex(resource.get("gender"), field="gender"),
        "phone": _opt_text(phone, field="telecom.phone", max_length=values.MAX_LENGTH["phone"]),
        "email": values.email(email, field="telecom.email"),
        "address": _opt_text(
            _address(resource), field="address", max_length=values.MAX_LENGTH["address"]
        ),
        "is_synthetic": synthetic,
    }


# --- record entries ------------------------------------------------------------------------------


def _effective(resource: dict[str, Any]) -> dt.datetime:
    for name in ("effectiveDateTime", "effectiveInstant"):
        if resource.get(name) is not None:
            moment = values.datetime(resource[name], field=name)
            assert moment is not None
            return moment
    start = _obj(resource.get("effectivePeriod")).get("start")
    if start is not None:
        moment = values.datetime(start, field="effectivePeriod.start")
        assert moment is not None
        return moment
    raise RowError("effectiveDateTime", "effectiveDateTime (when it was measured) is missing.")


def _quantity(resource: dict[str, Any], code: str, *, prefix: str) -> tuple[float, str]:
    quantity = resource.get("valueQuantity")
    if not isinstance(quantity, dict):
        other = next((k for k in resource if k.startswith("value")), None)
        if other is not None:
            raise RowError(prefix + other, f"{other} is not imported: a valueQuantity is needed.")
        raise RowError(prefix + "valueQuantity", "valueQuantity (the value and unit) is missing.")
    if isinstance(quantity.get("value"), str):  # text is for CSV cells; JSON has numbers
        raise RowError(
            prefix + "valueQuantity.value",
            "valueQuantity.value must be a JSON number.",
            quantity["value"],
        )
    unit = quantity.get("code") if quantity.get("system") == emitted.UCUM else None
    unit = unit or quantity.get("unit") or quantity.get("code")
    return values.observation(
        code,
        quantity.get("value"),
        unit,
        fields=(
            prefix + "code",
            prefix + "valueQuantity.value",
            prefix + "valueQuantity.unit",
        ),
    )


def _loinc(concept: Any, *, field: str) -> str:
    coding = _coding(concept, system=emitted.LOINC)
    if not coding:
        raise RowError(field, f"{field} has no LOINC coding (system {emitted.LOINC}).", concept)
    return values.text(coding.get("code"), field=f"{field}.coding.code", max_length=20)


def observation_entries(
    resource: dict[str, Any], *, row: int, subject: str, mrn: str
) -> list[EntryRow]:
    """An Observation as observation_record's arguments: its LOINC code, valueQuantity (in a
    unit the catalog converts) and effective time. A panel without a value of its own (blood
    pressure, say) gives one observation per component."""
    status = resource.get("status")
    if status in NOT_A_RESULT:
        raise RowError("status", f"An observation with status {status} is not a result.", status)
    effective = _effective(resource)
    ident = _ident(resource)
    parts: list[tuple[str, dict[str, Any], str]] = []
    components = [c for c in _list(resource.get("component")) if isinstance(c, dict)]
    if "valueQuantity" not in resource and components:
        for n, component in enumerate(components):
            prefix = f"component[{n}]."
            parts.append((_loinc(component.get("code"), field=prefix + "code"), component, prefix))
    else:
        parts.append((_loinc(resource.get("code"), field="code"), resource, ""))
    entries = []
    for code, holder, prefix in parts:
        value, unit = _quantity(holder, code, prefix=prefix)
        entries.append(
            EntryRow(
                row=row,
                resource="Observation",
                ident=ident,
                kind="observation",
                subject=subject,
                fields={"code": code, "value": value, "unit": unit, "effective_at": effective},
                key=observation_key(code, effective, value),
                subject_mrn=mrn,
            )
        )
    return entries


def _condition_system(system: Any) -> str:
    if not isinstance(system, str) or not system:
        return "local"
    if system in (emitted.ICD10CM, ICD10):
        return "ICD-10"
    if system == SNOMED:
        return "SNOMED CT"
    return system.rsplit("/", 1)[-1][:20] or "local"


def condition_fields(resource: dict[str, Any]) -> dict[str, Any]:
    concept = _obj(resource.get("code"))
    coding = _coding(concept, system=emitted.ICD10CM) or _coding(concept)
    if not coding:
        raise RowError("code.coding", "code.coding (the diagnosis code) is missing.", concept)
    status_code = _coding(resource.get("clinicalStatus")).get("code") or "active"
    resolved = status_code in ("inactive", "remission", "resolved")
    notes = " ".join(
        n["text"]
        for n in _list(resource.get("note"))
        if isinstance(n, dict) and isinstance(n.get("text"), str)
    )
    return {
        "system": _condition_system(coding.get("system")),
        "code": values.text(coding.get("code"), field="code.coding.code", max_length=20),
        "display": values.text(
            coding.get("display") or concept.get("text"), field="code.text", max_length=200
        ),
        "onset_date": values.date(
            resource.get("onsetDateTime"), field="onsetDateTime", required=False
        ),
        "resolved_date": values.date(
            resource.get("abatementDateTime"), field="abatementDateTime", required=False
        ),
        "status": Condition.Status.RESOLVED if resolved else Condition.Status.ACTIVE,
        "notes": _opt_text(notes, field="note", max_length=2000),
    }


def allergy_fields(resource: dict[str, Any]) -> dict[str, Any]:
    concept = _obj(resource.get("code"))
    reaction = _first(resource.get("reaction"))
    manifestation = _concept_text(_first(reaction.get("manifestation")))
    if manifestation == "Not recorded":  # interop.resources' placeholder: FHIR requires one
        manifestation = None
    severity = reaction.get("severity") or Allergy.Severity.MODERATE
    if severity not in Allergy.Severity.values:
        raise RowError(
            "reaction.severity", "reaction.severity must be mild, moderate or severe.", severity
        )
    return {
        "substance": values.text(_concept_text(concept), field="code.text", max_length=120),
        "code": _opt_text(_coding(concept).get("code"), field="code.coding.code", max_length=20),
        "reaction": _opt_text(manifestation, field="reaction.manifestation", max_length=200),
        "severity": severity,
        "noted_on": values.date(
            resource.get("onsetDateTime"), field="onsetDateTime", required=False
        ),
    }


def _frequency(dosage: dict[str, Any], dose: Decimal | None, unit: str, route_label: str) -> str:
    """The frequency within a dosage text "<dose> <unit> <frequency> <route>" (how
    interop.resources writes it): the text less the dose in front and the route at the end."""
    words = dosage.get("text")
    if not isinstance(words, str):
        return ""
    remaining = words.strip()
    if dose is not None:
        remaining = re.sub(
            rf"^[0-9.]+(?:\s+{re.escape(unit)})?(?=\s|$)" if unit else r"^[0-9.]+(?=\s|$)",
            "",
            remaining,
        ).strip()
    if route_label and remaining.lower().endswith(route_label.lower()):
        remaining = remaining[: -len(route_label)].strip()
    return remaining


def medication_fields(resource: dict[str, Any]) -> dict[str, Any]:
    concept = _obj(resource.get("medicationCodeableConcept"))
    if not concept:
        raise RowError(
            "medicationCodeableConcept",
            "medicationCodeableConcept is missing (a medicationReference is not imported).",
        )
    dosage = _first(resource.get("dosage"))
    quantity = _obj(_first(dosage.get("doseAndRate")).get("doseQuantity"))
    dose = None
    if quantity.get("value") is not None:
        dose = values.decimal(quantity.get("value"), field="dosage.doseAndRate.doseQuantity.value")
    dose_unit = _opt_text(
        quantity.get("unit") or quantity.get("code"),
        field="dosage.doseQuantity.unit",
        max_length=20,
    )
    route_text = _concept_text(dosage.get("route"))
    route: str = Medication.Route.ORAL
    if isinstance(route_text, str) and route_text.strip():
        route = _ROUTES.get(route_text.strip().lower(), Medication.Route.OTHER)
    route_label = dict(Medication.Route.choices)[route] if route_text else ""
    period = _obj(resource.get("effectivePeriod"))
    start = values.date(period.get("start"), field="effectivePeriod.start", required=False)
    end = values.date(period.get("end"), field="effectivePeriod.end", required=False)
    active = resource.get("status") in ("active", "intended", "on-hold", None)
    return {
        "name": values.text(
            _concept_text(concept), field="medicationCodeableConcept.text", max_length=120
        ),
        "code": _opt_text(
            _coding(concept).get("code"),
            field="medicationCodeableConcept.coding.code",
            max_length=20,
        ),
        "dose": dose,
        "dose_unit": dose_unit,
        "frequency": _opt_text(
            _frequency(dosage, dose, dose_unit, route_label), field="dosage.text", max_length=60
        ),
        "route": route,
        "start_date": start,
        "end_date": end,
        "status": Medication.Status.ACTIVE if active else Medication.Status.STOPPED,
    }


def family_history_entries(resource: dict[str, Any]) -> list[dict[str, Any]]:
    """A FamilyMemberHistory: one entry of the record per condition of the relative."""
    relation_code = _coding(resource.get("relationship")).get("code")
    relation = (
        _RELATIONS.get(relation_code, FamilyHistory.Relation.OTHER) if relation_code else None
    )
    if relation is None:
        raise RowError("relationship", "relationship (who the relative is) is missing.")
    conditions = [c for c in _list(resource.get("condition")) if isinstance(c, dict)]
    if not conditions:
        raise RowError("condition", "condition (what the relative had) is missing.")
    found = []
    for n, condition in enumerate(conditions):
        prefix = f"condition[{n}]."
        concept = _obj(condition.get("code"))
        age = _obj(condition.get("onsetAge")).get("value")
        onset_age = None
        if age is not None:
            years = values.number(age, field=prefix + "onsetAge.value")
            if not 0 <= years <= 120:
                raise RowError(prefix + "onsetAge.value", "onsetAge must be 0 to 120 years.", age)
            onset_age = round(years)
        found.append(
            {
                "relation": relation,
                "condition_code": _opt_text(
                    _coding(concept).get("code"), field=prefix + "code.coding.code", max_length=20
                ),
                "condition_display": values.text(
                    _concept_text(concept), field=prefix + "code.text", max_length=200
                ),
                "onset_age": onset_age,
            }
        )
    return found


def _ident(resource: dict[str, Any]) -> str:
    ident = resource.get("id")
    return ident[:64] if isinstance(ident, str) else ""


def _fold(text: Any) -> str:
    return str(text or "").casefold()


def _iso(day: dt.date | None) -> str:
    return day.isoformat() if day is not None else ""


def entry_records(entry: Any, *, row: int, today: dt.date) -> list[Staged]:
    """One Bundle entry as staged items: a patient, one or more record entries, a skipped
    resource, or a rejection naming the field at fault."""
    if not isinstance(entry, dict):
        return [Rejection(row, "", "entry", "The entry is not a JSON object.")]
    resource = entry.get("resource")
    if not isinstance(resource, dict):
        return [Rejection(row, "", "resource", "The entry has no resource.")]
    kind = resource.get("resourceType")
    ident = _ident(resource)
    if not isinstance(kind, str) or not kind:
        return [Rejection(row, "", "resourceType", "The resource has no resourceType.", "", ident)]
    kind = kind[:64]
    if kind in SKIPPED_TYPES:
        return [Skipped(row, kind)]
    if kind not in IMPORTED_TYPES:
        return [
            Rejection(
                row,
                kind,
                "resourceType",
                f"resourceType {kind} is not imported (only {', '.join(IMPORTED_TYPES)}).",
                value_excerpt(kind),
                ident,
            )
        ]
    method = _obj(entry.get("request")).get("method")
    if method == "DELETE":
        return [
            Rejection(row, kind, "request.method", "A DELETE entry is not imported.", "", ident)
        ]
    huge = values.oversized_string(resource)
    if kind == "Patient":
        return _patient_records(resource, entry.get("fullUrl"), row=row, today=today, huge=huge)
    try:
        if huge is not None:
            raise RowError(huge, f"A value is longer than {values.ANY_STRING_MAX:,} characters.")
        subject_field = (
            "patient" if kind in ("AllergyIntolerance", "FamilyMemberHistory") else "subject"
        )
        subject, mrn = subject_alias(resource.get(subject_field), field=subject_field)
        return list(_entries(kind, resource, row=row, subject=subject, mrn=mrn, ident=ident))
    except RowError as error:
        return [Rejection.of(error, row=row, resource=kind, ident=ident)]


def _patient_records(
    resource: dict[str, Any], full_url: Any, *, row: int, today: dt.date, huge: str | None
) -> list[Staged]:
    ident = _ident(resource)
    aliases = patient_aliases(resource, full_url)
    raw_mrn = _mrn_identifier(resource)
    mrn = raw_mrn.strip()[: values.MAX_LENGTH["mrn"]] if isinstance(raw_mrn, str) else ""
    if mrn and len(raw_mrn) <= values.MAX_LENGTH["mrn"] and values.mrn_alias(mrn) != "mrn:":
        aliases = (*aliases, values.mrn_alias(mrn))
    try:
        if huge is not None:
            raise RowError(huge, f"A value is longer than {values.ANY_STRING_MAX:,} characters.")
        fields = patient_fields(resource, today=today)
    except RowError as error:
        return [
            PatientRow(row, "Patient", ident, aliases, None, mrn),
            Rejection.of(error, row=row, resource="Patient", ident=ident, mrn=mrn),
        ]
    return [PatientRow(row, "Patient", ident, aliases, fields, fields["mrn"])]


def _entries(
    kind: str, resource: dict[str, Any], *, row: int, subject: str, mrn: str, ident: str
) -> Iterator[EntryRow]:
    common: dict[str, Any] = {
        "row": row,
        "resource": kind,
        "ident": ident,
        "subject": subject,
        "subject_mrn": mrn,
    }
    key: tuple[Any, ...]
    if kind == "Observation":
        yield from observation_entries(resource, row=row, subject=subject, mrn=mrn)
    elif kind == "Condition":
        fields = condition_fields(resource)
        key = (fields["system"], fields["code"], _iso(fields["onset_date"]))
        yield EntryRow(kind="condition", fields=fields, key=key, **common)
    elif kind == "AllergyIntolerance":
        fields = allergy_fields(resource)
        key = (_fold(fields["substance"]), _iso(fields["noted_on"]))
        yield EntryRow(kind="allergy", fields=fields, key=key, **common)
    elif kind == "MedicationStatement":
        fields = medication_fields(resource)
        key = (_fold(fields["name"]), fields["code"], _iso(fields["start_date"]))
        yield EntryRow(kind="medication", fields=fields, key=key, **common)
    elif kind == "FamilyMemberHistory":
        for fields in family_history_entries(resource):
            key = (fields["relation"], fields["condition_code"], _fold(fields["condition_display"]))
            yield EntryRow(kind="family_history", fields=fields, key=key, **common)


# --- the Bundle, streamed ------------------------------------------------------------------------


def _json_error(error: Exception, offset: int) -> BundleError:
    # yajl's message quotes the text around the error (PHI, perhaps): keep its first line only.
    first = str(error).strip().splitlines()[0] if str(error).strip() else "invalid JSON"
    return BundleError(
        "invalid_json",
        f"The file is not valid JSON ({first}) near byte {offset:,}: nothing was imported. "
        "NaN and Infinity are not JSON numbers.",
    )


def bundle_records(source: IO[bytes], *, today: dt.date, counter: Any = None) -> Iterator[Staged]:
    """Every entry of the Bundle in `source` as staged items, one entry in memory at a time.

    Raises BundleError once the file is read if it is not a Bundle of an accepted type, and at the
    point of damage if it is not valid JSON: so a consumer must read to the end before it writes
    anything (interop.importing.staging stages it all first). `counter` (optional) is read for
    its `bytes_read` to place a JSON error."""
    found: dict[str, list[Any]] = {"resourceType": [], "type": []}
    entries: list[Any] = []
    coroutines = [
        ijson.items_coro(_sink(entries), "entry.item", use_float=False),
        ijson.items_coro(_sink(found["resourceType"]), "resourceType"),
        ijson.items_coro(_sink(found["type"]), "type"),
    ]
    row = 0
    try:
        while True:
            data = source.read(READ_BYTES)
            for coroutine in coroutines:
                if data:
                    coroutine.send(data)
                else:
                    coroutine.close()
            batch = entries[:]
            entries.clear()
            for entry in batch:
                row += 1
                yield from entry_records(entry, row=row, today=today)
            if not data:
                break
    except ijson.JSONError as error:
        raise _json_error(error, getattr(counter, "bytes_read", 0)) from None
    kind = found["resourceType"][0] if found["resourceType"] else None
    if kind != "Bundle":
        raise BundleError(
            "not_a_bundle",
            f"The file is JSON but not a FHIR Bundle (its resourceType is "
            f"{value_excerpt(kind) or 'missing'}).",
        )
    bundle_type = found["type"][0] if found["type"] else None
    if bundle_type not in BUNDLE_TYPES:
        raise BundleError(
            "bundle_type",
            f"A Bundle of type {value_excerpt(bundle_type) or '(none)'} is not imported: "
            f"only {', '.join(BUNDLE_TYPES)}.",
        )


def _sink(target: list[Any]) -> Any:
    """A coroutine appending what it is sent (ijson's *_coro functions push into one)."""

    def collect() -> Any:
        while True:
            target.append((yield))

    coroutine = collect()
    next(coroutine)
    return coroutine
