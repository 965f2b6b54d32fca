"""DICOM de-identification on export (PS3.15 basic profile with modified dates)."""

import datetime as dt
import io

import numpy as np
import pytest
from pydicom import dcmread
from pydicom.dataset import Dataset
from pydicom.uid import CTImageStorage

from imaging.deid import DicomDeidError, dicom_deidentify, dicom_deidentify_bytes, uid_replace
from tests.imaging.intake.builders import STUDY_UID, ct_slice, dicom_bytes

SECRET = b"test-deid-secret"


def _hostile_slice() -> Dataset:
    ds = ct_slice()
    ds.PatientName = "Quaxtonby^Zebulonia"
    ds.PatientID = "MRNCANARY77"
    ds.PatientAddress = "17 Quaxton Lane"
    ds.OtherPatientIDs = "SSN-123-45-6789"
    ds.OperatorsName = "Tech^Quaxton"
    ds.StationName = "QUAXTON-CT1"
    ds.ImageComments = "Zebulonia fell at home"
    ds.AcquisitionDate = "20240130"
    ds.add_new(0x00091010, "LO", "Quaxton private")  # a private tag
    ds.private_block(0x0011, "ACME", create=True).add_new(0x01, "LO", "Zebulonia")
    ds.add_new(0x60003000, "OW", b"\x00\x01" * 8)  # overlay data
    nested = Dataset()
    nested.ReferencedSOPClassUID = CTImageStorage
    nested.ReferencedSOPInstanceUID = "1.2.826.0.1.3680043.8.498.77"
    nested.add_new(0x0040A123, "PN", "Quaxtonby^Zebulonia")  # Person Name, in a sequence
    ds.ReferencedImageSequence = [nested]
    return ds


def _deid(ds: Dataset, days: int = -30) -> Dataset:
    data = dicom_deidentify_bytes(dicom_bytes(ds), pseudonym="S123", date_offset_days=days,
                                  secret=SECRET)  # fmt: skip
    return dcmread(io.BytesIO(data))


def test_identifiers_are_gone_from_the_whole_file():
    original = _hostile_slice()
    data = dicom_deidentify_bytes(dicom_bytes(original), pseudonym="S123", date_offset_days=-30,
                                  secret=SECRET)  # fmt: skip
    for phi in (b"Quaxton", b"Zebulonia", b"MRNCANARY77", b"SSN-123", b"Synthetic Hospital",
                b"ACC42", b"Doctor", b"19700101", STUDY_UID.encode(),
                str(original.SOPInstanceUID).encode()):  # fmt: skip
        assert phi not in data, phi


def test_the_profile_is_declared_and_the_pseudonym_set():
    out = _deid(_hostile_slice())
    assert out.PatientIdentityRemoved == "YES"
    assert out.LongitudinalTemporalInformationModified == "MODIFIED"
    codes = [item.CodeValue for item in out.DeidentificationMethodCodeSequence]
    assert codes == ["113100", "113107"]
    assert out.PatientName == "S123" and out.PatientID == "S123"
    assert out.PatientBirthDate == "" and out.AccessionNumber == ""
    assert "PatientAddress" not in out and "OtherPatientIDs" not in out
    assert not any(el.tag.is_private for el in out)
    assert 0x60003000 not in out


def test_dates_shift_together_and_uids_stay_consistent():
    out = _deid(_hostile_slice(), days=-30)
    assert out.StudyDate == "20240101" and out.AcquisitionDate == "20231231"
    assert out.StudyInstanceUID == uid_replace(STUDY_UID, secret=SECRET)
    assert out.StudyInstanceUID.startswith("2.25.")
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    # Registered UIDs (what the object is) are kept; instance UIDs are replaced everywhere.
    assert out.SOPClassUID == CTImageStorage
    ref = out.ReferencedImageSequence[0]
    assert ref.ReferencedSOPClassUID == CTImageStorage
    assert ref.ReferencedSOPInstanceUID == uid_replace(
        "1.2.826.0.1.3680043.8.498.77", secret=SECRET
    )
    assert ref[0x0040A123].value == "ANONYMIZED"  # PS3.15: D (a dummy name)


def test_two_slices_of_one_series_stay_one_series():
    a, b = _deid(ct_slice(instance=1)), _deid(ct_slice(instance=2, z=1.0))
    assert a.SeriesInstanceUID == b.SeriesInstanceUID
    assert a.SOPInstanceUID != b.SOPInstanceUID


def test_pixels_and_geometry_are_kept():
    original = ct_slice()
    out = _deid(original)
    assert np.array_equal(out.pixel_array, original.pixel_array)
    assert out.Modality == "CT" and list(out.PixelSpacing) == [0.7, 0.8]


def test_burned_in_annotation_is_refused():
    ds = ct_slice()
    ds.BurnedInAnnotation = "YES"
    with pytest.raises(DicomDeidError, match="burned"):
        dicom_deidentify(ds, pseudonym="S1", date_offset_days=1, secret=SECRET)


def test_a_stored_study_exports_under_the_patients_research_pseudonym(patient, clinician):
    from imaging import storage
    from imaging.deid import study_dicom_deidentified
    from imaging.models import Study
    from patients.deid import date_offset_days, subject_id
    from tests.imaging.conftest import study_make

    name = storage.write(dicom_bytes(_hostile_slice()), ".dcm")
    study = study_make(patient=patient, by=clinician, state=Study.State.QUEUED,
                       kind=Study.Kind.DICOM, file_name=name)  # fmt: skip
    out = dcmread(io.BytesIO(study_dicom_deidentified(study)))
    assert out.PatientID == subject_id(patient.pk)
    shifted = date_offset_days(patient.pk)
    assert out.StudyDate == (dt.date(2024, 1, 31) + dt.timedelta(days=shifted)).strftime("%Y%m%d")
    png = study_make(patient=patient, by=clinician, state=Study.State.QUEUED)
    with pytest.raises(DicomDeidError):
        study_dicom_deidentified(png)
