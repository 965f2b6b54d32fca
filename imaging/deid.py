"""DICOM de-identification on export: PS3.15 Annex E, Basic Application Level Confidentiality
Profile, with the Retain Longitudinal Temporal Information with Modified Dates option.

`dicom_deidentify` applies the profile's actions to a pydicom Dataset, recursively through
sequences and in the file meta:

- X (remove), Z (empty), D (a dummy value) for the attributes of `ACTIONS` (the profile's table
  E.1-1 for the identifying attributes an imaging study carries; see PS3.15 for the full list);
- U: every UID that is not a registered DICOM UID (SOP classes, transfer syntaxes, coding
  schemes) is replaced by a `2.25.` UID derived from it under a secret, so a series stays a series
  and references stay consistent, but the originals cannot be recovered or linked;
- private attributes, overlays (60xx), curves (50xx) and digital signatures are removed;
- what the table does not name is still caught: any person name (PN) is emptied and any free text
  (LT, ST, UT) removed, since they are where identifiers hide;
- dates (DA, DT) are shifted by the patient's offset (the same one as the record's research
  export), so intervals hold; Patient's Birth Date is emptied;
- Patient Identity Removed = YES, the method and its codes (113100, 113107) are recorded, and
  Patient ID / Patient's Name become the research pseudonym.

Pixel data is not cleaned: an image flagged with burned-in annotation is refused
(`DicomDeidError`), as the basic profile without the Clean Pixel Data option requires.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io

from pydicom import dcmread
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag
from pydicom.uid import UID

from imaging import storage
from imaging.models import Study
from patients.deid import date_offset_days, deid_secret, subject_id

DEID_METHOD = "PS3.15 Basic Profile; Modified Dates Option"  # LO: 64 chars at most
PROFILE_CODES = (
    ("113100", "Basic Application Confidentiality Profile"),
    ("113107", "Retain Longitudinal Temporal Information Modified Dates Option"),
)


def _keywords(text: str) -> list[str]:
    return text.split()


# PS3.15 table E.1-1, by keyword: the identifying attributes an imaging study carries.
_REMOVED = _keywords("""
    PatientBirthTime PatientAge PatientSize PatientWeight PatientAddress
    PatientTelephoneNumbers PatientMotherBirthName PatientBirthName OtherPatientIDs
    OtherPatientNames OtherPatientIDsSequence IssuerOfPatientID MedicalRecordLocator
    EthnicGroup Occupation AdditionalPatientHistory PatientComments PatientReligiousPreference
    MilitaryRank BranchOfService CountryOfResidence RegionOfResidence
    PatientInsurancePlanCodeSequence PatientState MedicalAlerts Allergies PregnancyStatus
    SmokingStatus LastMenstrualDate ResponsiblePerson ResponsibleOrganization
    PatientInstitutionResidence CurrentPatientLocation ReferencedPatientSequence
    AdmittingDiagnosesDescription AdmittingDiagnosesCodeSequence AdmissionID
    IssuerOfAdmissionIDSequence PatientTransportArrangements StudyDescription SeriesDescription
    ReferringPhysicianAddress ReferringPhysicianTelephoneNumbers
    ReferringPhysicianIdentificationSequence PhysiciansOfRecord
    PhysiciansOfRecordIdentificationSequence PerformingPhysicianName
    PerformingPhysicianIdentificationSequence NameOfPhysiciansReadingStudy
    PhysiciansReadingStudyIdentificationSequence RequestingPhysician RequestingService
    OperatorsName OperatorIdentificationSequence ScheduledPerformingPhysicianName
    RequestAttributesSequence RequestedProcedureID RequestedProcedureDescription
    ScheduledProcedureStepID PerformedProcedureStepID PerformedProcedureStepDescription
    ReasonForStudy ReasonForTheRequestedProcedure RequestedContrastAgent
    ReferencedStudySequence ReferencedPerformedProcedureStepSequence ProtocolName ImageComments
    DerivationDescription InstitutionName InstitutionAddress InstitutionalDepartmentName
    InstitutionCodeSequence StationName DeviceSerialNumber DetectorID PlateID GantryID
    CassetteID GeneratorID AcquisitionDeviceProcessingDescription TimezoneOffsetFromUTC
    OriginalAttributesSequence ModifiedAttributesSequence DigitalSignaturesSequence
    MACParametersSequence EncryptedAttributesSequence
""")
_EMPTIED = _keywords("""
    PatientName PatientID PatientBirthDate PatientSex AccessionNumber StudyID
    ReferringPhysicianName ContentCreatorName
""")
_DUMMY = _keywords("""
    VerifyingObserverName PersonName
""")
ACTIONS: dict[str, str] = {
    **dict.fromkeys(_REMOVED, "X"),
    **dict.fromkeys(_EMPTIED, "Z"),
    **dict.fromkeys(_DUMMY, "D"),
}

_FREE_TEXT_VRS = {"LT", "ST", "UT"}


class DicomDeidError(ValueError):
    """The file cannot be de-identified safely by this profile (e.g. burned-in annotation)."""


def _is_registered(uid: str) -> bool:
    return UID(uid).is_valid and UID(uid).name != uid


def uid_replace(uid: str, *, secret: bytes) -> str:
    """The `2.25.` UID standing for `uid` (PS3.5 B.2: a UUID as a decimal integer)."""
    digest = hmac.new(secret, f"dicom-uid\x00{uid}".encode(), hashlib.sha256).digest()
    return f"2.25.{int.from_bytes(digest[:16], 'big')}"


def _shift_da(value: str, days: int) -> str:
    try:
        day = dt.datetime.strptime(value.strip()[:8], "%Y%m%d").date()
    except ValueError:
        return ""  # a date we cannot read cannot be shifted: drop it
    return (day + dt.timedelta(days=days)).strftime("%Y%m%d")


def _shift_dt(value: str, days: int) -> str:
    text = value.strip()
    if len(text) < 8:
        return ""
    shifted = _shift_da(text[:8], days)
    return shifted + text[8:] if shifted else ""


def _shift(element: DataElement, days: int) -> None:
    shift = _shift_da if element.VR == "DA" else _shift_dt
    if element.VM == 0 or element.value in (None, ""):
        return
    if element.VM > 1:
        element.value = [shift(str(v), days) for v in element.value]
    else:
        element.value = shift(str(element.value), days)


def _apply(ds: Dataset, *, days: int, secret: bytes) -> None:
    doomed: list[BaseTag] = []
    for element in ds:
        tag = element.tag
        action = ACTIONS.get(element.keyword)
        group = tag.group
        if (
            tag.is_private
            or action == "X"
            or 0x5000 <= group <= 0x50FF
            or 0x6000 <= group <= 0x60FF
            or tag == 0xFFFAFFFA
            or (element.VR in _FREE_TEXT_VRS and action is None)
        ):
            doomed.append(tag)
            continue
        if action == "Z" or (element.VR == "PN" and action is None):
            element.value = None if element.VR == "SQ" else ""
            continue
        if action == "D":
            element.value = "ANONYMIZED" if element.VR != "SQ" else []
            continue
        if element.VR == "SQ":
            for item in element.value or Sequence([]):
                _apply(item, days=days, secret=secret)
        elif element.VR == "UI" and element.value:
            values = element.value if element.VM > 1 else [element.value]
            replaced = [
                v if _is_registered(str(v)) else uid_replace(str(v), secret=secret) for v in values
            ]
            element.value = replaced if element.VM > 1 else replaced[0]
        elif element.VR in ("DA", "DT"):
            _shift(element, days)
    for tag in doomed:
        del ds[tag]


def dicom_deidentify(
    ds: Dataset, *, pseudonym: str, date_offset_days: int, secret: bytes
) -> Dataset:
    """De-identify `ds` in place (and return it); see the module's docstring for what changes."""
    if str(ds.get("BurnedInAnnotation", "")).upper() == "YES":
        raise DicomDeidError(
            "This image has text burned into its pixels, which de-identification cannot remove."
        )
    _apply(ds, days=date_offset_days, secret=secret)
    if getattr(ds, "file_meta", None) is not None:
        _apply(ds.file_meta, days=date_offset_days, secret=secret)
        if "SOPInstanceUID" in ds:
            ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientName = pseudonym
    ds.PatientID = pseudonym
    ds.PatientIdentityRemoved = "YES"
    ds.LongitudinalTemporalInformationModified = "MODIFIED"
    ds.DeidentificationMethod = DEID_METHOD
    codes = []
    for value, meaning in PROFILE_CODES:
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
        codes.append(item)
    ds.DeidentificationMethodCodeSequence = codes
    return ds


def dicom_deidentify_bytes(
    data: bytes, *, pseudonym: str, date_offset_days: int, secret: bytes
) -> bytes:
    """A DICOM Part 10 file, de-identified, as a new Part 10 file."""
    ds = dcmread(io.BytesIO(data), force=False)
    dicom_deidentify(ds, pseudonym=pseudonym, date_offset_days=date_offset_days, secret=secret)
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def study_dicom_deidentified(study: Study) -> bytes:
    """The study's stored DICOM file, de-identified under its patient's research pseudonym and
    date offset (those of patients.deid, so it links with the record's research export)."""
    if study.kind != Study.Kind.DICOM:
        raise DicomDeidError("Only a single DICOM file can be exported de-identified.")
    data = storage.original_read_bytes(study.file_name)
    return dicom_deidentify_bytes(
        data,
        pseudonym=subject_id(study.patient_id),
        date_offset_days=date_offset_days(study.patient_id),
        secret=deid_secret(),
    )
