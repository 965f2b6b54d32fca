"""Reading DICOM element values ourselves, from the raw bytes pydicom leaves unconverted.

Why not `ds.Rows`: pydicom converts with the process-wide `reading_validation_mode` (WARN by
default), so a broken value is accepted after a warning, and pydicom's warnings quote the value
into its logger: a badly encoded patient name would end up in our logs. Changing that global
setting around our reads would race with other threads. So elements that drive decoding are
validated here with pydicom's own validators in RAISE mode (a bad one refuses the file:
"dicom_bad_vr"); descriptive elements are read leniently (a bad value reads as missing); and
identifiers are decoded with the file's character set and never validated or logged.
"""

from __future__ import annotations

import datetime
import re
import struct
from collections.abc import Sequence

from pydicom import config
from pydicom.charset import convert_encodings, decode_bytes
from pydicom.datadict import dictionary_keyword, dictionary_VR
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.tag import BaseTag, Tag
from pydicom.valuerep import validate_value

from imaging.intake.errors import IntakeError

_BINARY = {"US": "H", "SS": "h", "UL": "L", "SL": "l", "FL": "f", "FD": "d"}
_TEXT_VRS = frozenset(
    {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "PN", "SH", "ST", "TM", "UC", "UI"}
    | {"UR", "UT"}
)
# (0010,0010)-style tags of the identifiers that go into Intake.phi, by key.
PHI_TAGS: dict[str, int] = {
    "patient_name": 0x00100010,
    "patient_id": 0x00100020,
    "birth_date": 0x00100030,
    "sex": 0x00100040,
    "accession_number": 0x00080050,
    "institution": 0x00080080,
    "referring_physician": 0x00080090,
    "study_date": 0x00080020,
    "study_uid": 0x0020000D,
    "series_uid": 0x0020000E,
}
_ACR_NEMA_DATE = re.compile(r"^(\d{4})\.(\d{2})\.(\d{2})$")


def bad_value(tag: int) -> IntakeError:
    name = _attribute_name(tag)
    return IntakeError(
        "dicom_bad_vr",
        f"This DICOM file has an invalid value in its image description ({name}); it may have "
        "been damaged or badly exported.",
    )


def _attribute_name(tag: int) -> str:
    try:
        keyword = dictionary_keyword(tag)
    except KeyError:
        return f"tag {Tag(tag)}"
    # "NumberOfFrames" -> "Number Of Frames": readable and never a value from the file.
    return re.sub(r"(?<=[a-z])(?=[A-Z])", " ", keyword)


def _allowed_vrs(tag: int) -> set[str]:
    try:
        return set(dictionary_VR(tag).split(" or "))
    except KeyError:
        return set()


def _raw(ds: Dataset, tag: int) -> tuple[str | None, bytes | None, bool]:
    """(VR as written or None, raw value bytes or None, little endian) of a top-level element.

    Elements pydicom already converted (it converts empty values and a few others eagerly) come
    back re-encoded as text where that is lossless, else with value None.
    """
    if tag not in ds:
        return None, None, True
    elem = ds.get_item(BaseTag(tag))
    if isinstance(elem, RawDataElement):
        value = elem.value
        return elem.VR, value if value is None else bytes(value), elem.is_little_endian
    assert isinstance(elem, DataElement)
    if elem.value is None or elem.value == "" or elem.value == []:
        return elem.VR, None, True
    values = elem.value if isinstance(elem.value, list | tuple | MultiValue) else [elem.value]
    if elem.VR in _TEXT_VRS:
        return elem.VR, "\\".join(str(v) for v in values).encode("ascii", "replace"), True
    if elem.VR in _BINARY and all(isinstance(v, int | float) for v in values):
        return elem.VR, struct.pack("<" + _BINARY[elem.VR] * len(values), *values), True
    return elem.VR, None, True


def _strict_raw(ds: Dataset, tag: int) -> tuple[str, bytes, bool] | None:
    """Raw element checked against the data dictionary: a VR the standard does not allow for
    this attribute (UN aside) is refused."""
    written, value, little = _raw(ds, tag)
    if value is None or len(value) == 0:
        return None
    allowed = _allowed_vrs(tag)
    if written is not None and written != "UN" and allowed and written not in allowed:
        raise bad_value(tag)
    vr = written if written in allowed else sorted(allowed)[0] if allowed else "UN"
    return vr, value, little


def _text_parts(vr: str, value: bytes, tag: int) -> list[str]:
    try:
        text = value.decode("ascii")
    except UnicodeDecodeError:
        raise bad_value(tag) from None
    parts = [p.strip(" \x00") for p in text.rstrip(" \x00").split("\\")]
    for part in parts:
        try:
            validate_value(vr, part, config.RAISE)
        except ValueError:
            raise bad_value(tag) from None
    return parts


def strict_ints(ds: Dataset, tag: int) -> list[int] | None:
    """All values of an integer attribute (US/SS/UL/SL binary, or IS text), validated."""
    found = _strict_raw(ds, tag)
    if found is None:
        return None
    vr, value, little = found
    if vr in ("US", "SS", "UL", "SL"):
        fmt = _BINARY[vr]
        size = struct.calcsize(fmt)
        if len(value) % size:
            raise bad_value(tag)
        return list(struct.unpack(("<" if little else ">") + fmt * (len(value) // size), value))
    if vr == "IS":
        parts = _text_parts("IS", value, tag)
        try:
            return [int(p) for p in parts]
        except ValueError:
            raise bad_value(tag) from None
    raise bad_value(tag)


def strict_int(ds: Dataset, tag: int) -> int | None:
    """The first value of an integer attribute, validated; None when absent or empty."""
    values = strict_ints(ds, tag)
    return values[0] if values else None


def strict_floats(ds: Dataset, tag: int) -> list[float] | None:
    """All values of a DS/FL/FD attribute, validated and finite."""
    found = _strict_raw(ds, tag)
    if found is None:
        return None
    vr, value, little = found
    if vr in ("FL", "FD"):
        fmt = _BINARY[vr]
        size = struct.calcsize(fmt)
        if len(value) % size:
            raise bad_value(tag)
        floats = list(struct.unpack(("<" if little else ">") + fmt * (len(value) // size), value))
    elif vr == "DS":
        floats = [float(p) for p in _text_parts("DS", value, tag)]
    else:
        raise bad_value(tag)
    if not all(f == f and abs(f) != float("inf") for f in floats):
        raise bad_value(tag)
    return floats


def strict_code(ds: Dataset, tag: int) -> str | None:
    """A CS/UI attribute's first value, validated."""
    found = _strict_raw(ds, tag)
    if found is None:
        return None
    vr, value, _ = found
    if vr not in ("CS", "UI"):
        raise bad_value(tag)
    return _text_parts(vr, value, tag)[0]


def lenient_floats(ds: Dataset, tag: int) -> list[float] | None:
    """Like strict_floats, but an invalid value reads as missing (descriptive attributes)."""
    try:
        return strict_floats(ds, tag)
    except IntakeError:
        return None


def lenient_int(ds: Dataset, tag: int) -> int | None:
    """Like strict_int, but an invalid value reads as missing."""
    try:
        return strict_int(ds, tag)
    except IntakeError:
        return None


def lenient_text(ds: Dataset, tag: int) -> str:
    """First value of a short ASCII attribute (Modality, BodyPartExamined, UIDs), upper-cased
    for CS; "" when absent or not plain text. Case and odd characters are tolerated: scanners
    write "Chest" as often as "CHEST"."""
    written, value, _ = _raw(ds, tag)
    if not value:
        return ""
    try:
        text = value.decode("ascii").strip(" \x00")
    except UnicodeDecodeError:
        return ""
    first = text.split("\\")[0].strip()
    return first.upper() if (written or dictionary_VR(tag)) == "CS" else first


def _encodings(ds: Dataset) -> list[str]:
    _, value, _ = _raw(ds, 0x00080005)
    terms = []
    if value:
        terms = [p.strip() for p in value.decode("ascii", "replace").split("\\")]
    try:
        return convert_encodings([t for t in terms] or ["ISO_IR 6"])
    except LookupError:
        return convert_encodings(["ISO_IR 6"])


def identifier(ds: Dataset, tag: int, encodings: Sequence[str]) -> str:
    """An identifier decoded with the file's character set; never validated, never logged."""
    _, value, _ = _raw(ds, tag)
    if not value:
        return ""
    try:
        text = decode_bytes(value, list(encodings), {0x5C, 0x5E, 0x3D})
    except (LookupError, UnicodeError, ValueError):
        text = value.decode("latin-1")
    return text.strip(" \x00")


def dicom_date(text: str) -> datetime.date | None:
    """A DA value (or the old ACR-NEMA yyyy.mm.dd) as a date; None when not a real date."""
    match = _ACR_NEMA_DATE.match(text)
    if match:
        text = "".join(match.groups())
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return datetime.date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def phi_read(ds: Dataset) -> tuple[dict[str, str], datetime.date | None]:
    """The identifiers for Intake.phi ("" when absent) and the study date."""
    encodings = _encodings(ds)
    phi = {key: identifier(ds, tag, encodings) for key, tag in PHI_TAGS.items()}
    for key in ("patient_name", "patient_id", "institution", "referring_physician"):
        # Multi-valued identifiers keep their first value, as every viewer shows.
        phi[key] = phi[key].split("\\")[0].strip()
    study_date = dicom_date(phi["study_date"])
    if study_date is not None:
        phi["study_date"] = study_date.isoformat()
    birth = dicom_date(phi["birth_date"])
    if birth is not None:
        phi["birth_date"] = birth.isoformat()
    return phi, study_date


def functional_group_item(ds: Dataset, sequence: str, index: int = 0) -> Dataset | None:
    """The item of a functional-group macro (e.g. "PixelMeasuresSequence") for frame `index` of
    an enhanced multi-frame object: from the shared groups, else from that frame's groups."""
    for groups, item_index in (
        ("SharedFunctionalGroupsSequence", 0),
        ("PerFrameFunctionalGroupsSequence", index),
    ):
        try:
            outer = ds.get(groups)
            if not outer or len(outer) <= item_index:
                continue
            inner = outer[item_index].get(sequence)
            if inner:
                item: Dataset = inner[0]
                return item
        except (AttributeError, TypeError, ValueError, KeyError, IndexError):
            continue
    return None


RESCALE_INTERCEPT, RESCALE_SLOPE = 0x00281052, 0x00281053


def rescale_read(ds: Dataset, *, strict: bool) -> tuple[float, float] | None:
    """(slope, intercept) from the top level or the shared functional groups; with `strict`, an
    invalid or zero slope refuses the file (it would make every Hounsfield value wrong)."""
    sources = [ds]
    if (shared := functional_group_item(ds, "PixelValueTransformationSequence")) is not None:
        sources.append(shared)
    for source in sources:
        if strict:
            slope = strict_floats(source, RESCALE_SLOPE)
            intercept = strict_floats(source, RESCALE_INTERCEPT)
        else:
            slope = lenient_floats(source, RESCALE_SLOPE)
            intercept = lenient_floats(source, RESCALE_INTERCEPT)
        if slope or intercept:
            m = slope[0] if slope else 1.0
            if m == 0:
                if strict:
                    raise bad_value(RESCALE_SLOPE)
                return None
            return m, intercept[0] if intercept else 0.0
    return None
