"""Checks of single values shared by the FHIR and CSV parsers. Each returns the value the record
stores or raises RowError naming the field as the file names it. No database.

Lengths are checked before anything else is done with a string, against the model's own limits,
so a 10 MB string is refused in microseconds and only its first characters reach the report.
"""

import datetime as dt
import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from interop.importing.records import RowError
from patients.catalog import OBSERVATION_TYPES, UNIT_LABELS, ObservationValueError
from patients.catalog import observation_normalize as catalog_normalize
from patients.crypto import normalize_for_index
from patients.models import Patient, Sex

# The model's limits, read once. Address is a TextField: an import caps it anyway.
MAX_LENGTH = {
    "mrn": Patient._meta.get_field("mrn").max_length or 40,
    "given_name": Patient._meta.get_field("given_name").max_length or 100,
    "family_name": Patient._meta.get_field("family_name").max_length or 100,
    "phone": Patient._meta.get_field("phone").max_length or 40,
    "email": 254,
    "address": 1000,
}
# No string in an imported resource may be longer than this, wherever it is (narrative included).
ANY_STRING_MAX = 64 * 1024
SEXES = frozenset(Sex.values)
EARLIEST_BIRTH = dt.date(1890, 1, 1)
# People write "mmHg" and "°C"; the record stores UCUM ("mm[Hg]", "Cel"). Both are accepted.
UNIT_ALIASES = {label: code for code, label in UNIT_LABELS.items()}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_PARTIAL_DATE = re.compile(r"^\d{4}(-\d{2})?$")


def text(value: Any, *, field: str, max_length: int, required: bool = True, label: str = "") -> str:
    """A string of at most `max_length` characters (stripped); "" when optional and absent."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise RowError(field, f"{label or field} is missing.")
        return ""
    if not isinstance(value, str):
        raise RowError(field, f"{label or field} must be text.", value)
    if len(value) > max_length:
        raise RowError(
            field,
            f"{label or field} is {len(value):,} characters long; at most {max_length} "
            "are accepted.",
            value,
        )
    return value.strip()


def oversized_string(value: Any, path: str = "", *, limit: int = ANY_STRING_MAX) -> str | None:
    """The path of the first string longer than `limit` anywhere in `value`, else None."""
    if isinstance(value, str):
        return path if len(value) > limit else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = oversized_string(item, f"{path}.{key}" if path else str(key), limit=limit)
            if found is not None:
                return found
    elif isinstance(value, list):
        for n, item in enumerate(value):
            found = oversized_string(item, f"{path}[{n}]", limit=limit)
            if found is not None:
                return found
    return None


def date(value: Any, *, field: str, required: bool = True) -> dt.date | None:
    """A full date, YYYY-MM-DD (a FHIR date may be "1960" or "1960-05": not precise enough)."""
    if value is None or value == "":
        if required:
            raise RowError(field, f"{field} is missing.")
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise RowError(field, f"{field} must be a date written YYYY-MM-DD.", value)
    candidate = value.strip()
    if "T" in candidate:  # a dateTime where a date is meant: its day is the date
        moment = datetime(candidate, field=field)
        return moment.date() if moment is not None else None
    if _PARTIAL_DATE.match(candidate):
        raise RowError(
            field, f"{field} must be a full date (YYYY-MM-DD), not a year or month.", value
        )
    if not _DATE.match(candidate):
        raise RowError(field, f"{field} must be a date written YYYY-MM-DD.", value)
    try:
        return dt.date.fromisoformat(candidate)
    except ValueError:
        raise RowError(field, f"{field} is not a real date.", value) from None


def datetime(value: Any, *, field: str, required: bool = True) -> dt.datetime | None:
    """An instant with its timezone ("2024-05-01T09:30:00Z", "+02:00"); a date alone is midnight
    UTC. A time without a timezone is refused: the hour would be a guess."""
    if value is None or value == "":
        if required:
            raise RowError(field, f"{field} is missing.")
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise RowError(field, f"{field} must be a date and time (ISO 8601).", value)
    candidate = value.strip()
    if _DATE.match(candidate):
        day = date(candidate, field=field)
        assert day is not None
        return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)
    try:
        moment = dt.datetime.fromisoformat(candidate.replace("z", "Z"))
    except ValueError:
        raise RowError(
            field, f"{field} must be a date and time (ISO 8601, e.g. 2024-05-01T09:30:00Z).", value
        ) from None
    if "T" not in candidate or moment.tzinfo is None:
        raise RowError(
            field, f"{field} has no timezone (end it with Z or an offset such as +01:00).", value
        )
    return moment


def number(value: Any, *, field: str) -> float:
    """A finite number: a JSON number, or text that is one (a CSV cell). NaN, infinities,
    booleans and numbers beyond ±1.8e308 are refused."""
    if isinstance(value, bool) or value is None or value == "":
        raise RowError(field, f"{field} must be a number.", value)
    if isinstance(value, str):
        if len(value) > 40:
            raise RowError(field, f"{field} must be a number.", value)
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            raise RowError(field, f"{field} must be a number.", value) from None
        value = parsed
    if not isinstance(value, int | float | Decimal):
        raise RowError(field, f"{field} must be a number.", value)
    try:
        result = float(value)
    except (OverflowError, ValueError):
        result = math.inf
    if not math.isfinite(result):
        raise RowError(field, f"{field} must be a finite number (not NaN or infinity).", value)
    return result


def decimal(value: Any, *, field: str, max_digits: int = 10, places: int = 3) -> Decimal:
    """A non-negative decimal that fits the column (e.g. a dose: 10 digits, 3 after the point)."""
    number(value, field=field)  # finite, not a boolean
    amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    quantized = amount.quantize(Decimal(1).scaleb(-places))
    if quantized < 0 or len(quantized.as_tuple().digits) > max_digits:
        raise RowError(field, f"{field} is out of range.", value)
    return quantized


def sex(value: Any, *, field: str) -> str:
    if value is None or value == "":
        raise RowError(field, f"{field} is missing.")
    if not isinstance(value, str) or value.strip().lower() not in SEXES:
        raise RowError(field, f"{field} must be one of {', '.join(sorted(SEXES))}.", value)
    return value.strip().lower()


def birth_date(value: Any, *, field: str, today: dt.date) -> dt.date:
    day = date(value, field=field)
    assert day is not None
    if day > today:
        raise RowError(field, f"{field} is in the future.", value)
    if day < EARLIEST_BIRTH:
        raise RowError(field, f"{field} is before 1890.", value)
    return day


def email(value: Any, *, field: str) -> str:
    address = text(value, field=field, max_length=MAX_LENGTH["email"], required=False)
    if address:
        try:
            validate_email(address)
        except ValidationError:
            raise RowError(field, f"{field} is not an email address.", value) from None
    return address


def mrn(value: Any, *, field: str) -> str:
    found = text(value, field=field, max_length=MAX_LENGTH["mrn"], label="The MRN")
    if not normalize_for_index(found):
        raise RowError(field, "The MRN must hold at least one letter or digit.", value)
    return found


def mrn_alias(value: str) -> str:
    """The alias of a patient by MRN: equal for MRNs the portal treats as equal (its blind index
    ignores case, spacing and punctuation)."""
    return "mrn:" + normalize_for_index(value)


def unit_code(unit: str) -> str:
    return UNIT_ALIASES.get(unit, unit)


def observation(
    code: str, value: Any, unit: Any, *, fields: tuple[str, str, str]
) -> tuple[float, str]:
    """(value in the canonical unit, canonical UCUM unit) through patients.catalog, or RowError on
    the field at fault: the code (unknown LOINC code), the unit (unknown or not convertible) or the
    value (not a finite number, outside the plausible range). `fields` names code, value, unit."""
    code_field, value_field, unit_field = fields
    if code not in OBSERVATION_TYPES:
        raise RowError(
            code_field,
            f"LOINC code {code!r} is not one of the portal's observation types.",
            code,
        )
    amount = number(value, field=value_field)
    if not isinstance(unit, str) or not unit.strip():
        raise RowError(unit_field, f"{unit_field} is missing.", unit)
    try:
        return catalog_normalize(code, amount, unit_code(unit.strip()[:40]))
    except ObservationValueError as error:
        where = {"code": code_field, "unit": unit_field}.get(error.field, value_field)
        raise RowError(where, str(error), unit if where == unit_field else value) from None
