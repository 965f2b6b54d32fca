"""The CSV template of an import, and its rows read as patients and observations. No database.

The template (downloadable from the import page, documented there and in TEMPLATE_HELP): UTF-8,
comma-separated, a header line of exactly TEMPLATE_COLUMNS, then one line per observation with the
patient's columns repeated on each, or a line with only the patient's columns for a patient
without observations. A patient's columns must be the same on each of its lines (a line whose
columns differ from the patient's first line is rejected, with its observation).

  mrn               required, at most 40 characters (the key: an MRN already in the portal is
                    matched, never duplicated)
  given_name        required, at most 100 characters
  family_name       required, at most 100 characters
  birth_date        required, YYYY-MM-DD
  sex               required: female, male, other or unknown
  phone, email, address   optional
  observation_code  a LOINC code of the portal's catalog (GET /api/v1/observation-codes/)
  observation_value a number (a point for decimals): within the code's plausible range
  observation_unit  a UCUM unit the code accepts (mm[Hg], kg, mg/dL, mmol/L...; mmHg, °C too)
  observation_time  ISO 8601 with a timezone (2024-05-01T09:30:00Z), or a date (midnight UTC)
The four observation columns are all filled or all empty.
"""

import csv
import datetime as dt
from collections.abc import Iterable, Iterator, Sequence

from interop.importing import values
from interop.importing.records import EntryRow, PatientRow, Rejection, RowError, Staged

TEMPLATE_COLUMNS = (
    "mrn",
    "given_name",
    "family_name",
    "birth_date",
    "sex",
    "phone",
    "email",
    "address",
    "observation_code",
    "observation_value",
    "observation_unit",
    "observation_time",
)
PATIENT_COLUMNS = TEMPLATE_COLUMNS[:8]
OBSERVATION_COLUMNS = TEMPLATE_COLUMNS[8:]
RESOURCE = "CSV row"

# (column, what goes in it, an example) for the import page.
TEMPLATE_HELP: tuple[tuple[str, str, str], ...] = (
    ("mrn", "Required. The patient's medical record number (the key).", "MRN0012345"),
    ("given_name", "Required. Given name(s).", "Ada"),
    ("family_name", "Required. Family name.", "Lovelace"),
    ("birth_date", "Required. YYYY-MM-DD.", "1961-12-10"),
    ("sex", "Required. female, male, other or unknown.", "female"),
    ("phone", "Optional.", "+44 20 7946 0000"),
    ("email", "Optional.", ""),
    ("address", "Optional, one line.", ""),
    ("observation_code", "A LOINC code of the portal's catalog.", "8480-6"),
    ("observation_value", "A number, with a point for decimals.", "128"),
    ("observation_unit", "A unit the code accepts (UCUM).", "mm[Hg]"),
    ("observation_time", "ISO 8601 with a timezone, or a date.", "2024-05-01T09:30:00Z"),
)


def header_matches(cells: Sequence[str]) -> bool:
    """Whether a CSV's first line is the template's header (spacing and case aside; a UTF-8 BOM
    is already gone)."""
    return tuple(cell.strip().lower() for cell in cells) == TEMPLATE_COLUMNS


def template_rows() -> list[tuple[str, ...]]:
    """The downloadable template: the header line only (an example row would import a patient)."""
    return [TEMPLATE_COLUMNS]


def patient_fields(cells: dict[str, str], *, today: dt.date) -> dict[str, object]:
    """The patient's columns as patient_create's arguments, or RowError on the first bad one."""
    return {
        "mrn": values.mrn(cells["mrn"], field="mrn"),
        "given_name": values.text(
            cells["given_name"], field="given_name", max_length=values.MAX_LENGTH["given_name"]
        ),
        "family_name": values.text(
            cells["family_name"], field="family_name", max_length=values.MAX_LENGTH["family_name"]
        ),
        "date_of_birth": values.birth_date(cells["birth_date"], field="birth_date", today=today),
        "sex": values.sex(cells["sex"], field="sex"),
        "phone": values.text(
            cells["phone"], field="phone", max_length=values.MAX_LENGTH["phone"], required=False
        ),
        "email": values.email(cells["email"], field="email"),
        "address": values.text(
            cells["address"],
            field="address",
            max_length=values.MAX_LENGTH["address"],
            required=False,
        ),
        "is_synthetic": False,
    }


def observation_entry(cells: dict[str, str], *, line: int, subject: str) -> EntryRow | None:
    """The line's observation, None when its four columns are empty; RowError when some are
    filled and others not, or one is wrong."""
    filled = [name for name in OBSERVATION_COLUMNS if cells[name].strip()]
    if not filled:
        return None
    for name in OBSERVATION_COLUMNS:
        if name not in filled:
            raise RowError(
                name, f"{name} is missing (an observation needs code, value, unit and time)."
            )
    code = values.text(cells["observation_code"], field="observation_code", max_length=20)
    value, unit = values.observation(
        code,
        cells["observation_value"],
        cells["observation_unit"],
        fields=("observation_code", "observation_value", "observation_unit"),
    )
    effective = values.datetime(cells["observation_time"], field="observation_time")
    assert effective is not None
    return EntryRow(
        row=line,
        resource=RESOURCE,
        ident="",
        kind="observation",
        subject=subject,
        fields={"code": code, "value": value, "unit": unit, "effective_at": effective},
        key=observation_key(code, effective, value),
    )


def observation_key(code: str, effective: dt.datetime, value: float) -> tuple[str, str, float]:
    """Two observations of a patient are the same when code, instant and canonical value are."""
    return (code, effective.astimezone(dt.UTC).isoformat(), value)


def row_records(cells_list: Sequence[str], *, line: int, today: dt.date) -> list[Staged]:
    """One CSV line as staged items: the patient (and its observation, if the line has one), or
    a rejection. A line whose patient columns are wrong is rejected whole; a line whose patient is
    right but observation wrong gives the patient and a rejection of the observation."""
    if len(cells_list) != len(TEMPLATE_COLUMNS):
        return [
            Rejection(
                line,
                RESOURCE,
                "",
                f"the line has {len(cells_list)} columns; the template has {len(TEMPLATE_COLUMNS)}",
            )
        ]
    cells = dict(zip(TEMPLATE_COLUMNS, cells_list, strict=True))
    raw_mrn = cells["mrn"][: values.MAX_LENGTH["mrn"]].strip()
    try:
        fields = patient_fields(cells, today=today)
    except RowError as error:
        return [Rejection.of(error, row=line, resource=RESOURCE, mrn=raw_mrn)]
    mrn = str(fields["mrn"])
    alias = values.mrn_alias(mrn)
    patient = PatientRow(line, RESOURCE, "", (alias,), fields, mrn)
    try:
        entry = observation_entry(cells, line=line, subject=alias)
    except RowError as error:
        return [patient, Rejection.of(error, row=line, resource=RESOURCE, mrn=mrn)]
    return [patient] if entry is None else [patient, entry]


def csv_records(lines: Iterable[str], *, today: dt.date) -> Iterator[Staged]:
    """Every line after the header as staged items, streaming: one line in memory at a time.
    Blank lines (every cell empty) are passed over. A cell past csv's field limit (128 KiB)
    rejects its line; the next line is read as usual."""
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error:
        header = []
    if not header_matches(header):
        raise RowError("header", "The first line is not the template's header.")
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield Rejection(
                reader.line_num, RESOURCE, "", f"the line cannot be read as CSV: {error}"
            )
            continue
        if not any(cell.strip() for cell in cells):
            continue
        yield from row_records(cells, line=reader.line_num, today=today)
