"""The study's DICOM file, de-identified, on the web and the API: for whoever may see the study
(another care team gets a 404, audited), an attachment named by the research pseudonym whose
PatientName is that pseudonym and which holds none of the patient's identifiers; a study that is
not one DICOM file, or has text burned into its pixels, is a 409 saying why."""

import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from pydicom import dcmread
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import AuditAction, AuditEvent
from imaging import storage
from imaging.models import Study
from imaging.services import study_submit
from patients.deid import subject_id
from tests.accounts.helpers import login_verified
from tests.imaging.conftest import study_make
from tests.imaging.intake.builders import ct_slice, dicom_bytes

pytestmark = pytest.mark.django_db

NAME, PATIENT_ID, BIRTH = "Quaxdeid^Zebulonia", "QXDEIDMRN77", "19310203"


def _dicom(**extra: Any) -> bytes:
    ds = ct_slice(rows=64, columns=64)
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = NAME, PATIENT_ID, BIRTH
    for keyword, value in extra.items():
        setattr(ds, keyword, value)
    return dicom_bytes(ds)


def web_url(study: Study) -> str:
    return reverse("imaging:study_deidentified", kwargs={"public_id": study.public_id})


def api_url(study: Study) -> str:
    return f"/api/v1/imaging/studies/{study.public_id}/deidentified.dcm"


def signed_in(user: Any) -> Client:
    client = Client()
    login_verified(client, user)
    return client


def api_as(user: Any) -> APIClient:
    token, _ = Token.objects.get_or_create(user=user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return api


@pytest.fixture
def dicom_study(clinician, patient) -> Study:
    return study_submit(by=clinician, patient=patient, chunks=[_dicom()], original_name="x.dcm")


def _check_deidentified(response: Any, study: Study) -> None:
    assert response.status_code == 200
    pseudonym = subject_id(study.patient_id)
    assert response["Content-Type"] == "application/dicom"
    assert response["Content-Disposition"] == f'attachment; filename="study-{pseudonym}-deid.dcm"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    data = response.content
    for phi in (b"Quaxdeid", b"Zebulonia", PATIENT_ID.encode(), BIRTH.encode()):
        assert phi not in data, phi
    ds = dcmread(io.BytesIO(data))
    assert str(ds.PatientName) == pseudonym and ds.PatientID == pseudonym
    assert ds.PatientIdentityRemoved == "YES"


def test_the_page_serves_the_dicom_de_identified_and_audits_an_export(dicom_study, clinician):
    assert storage.original_is_encrypted(dicom_study.file_name)
    _check_deidentified(signed_in(clinician).get(web_url(dicom_study)), dicom_study)
    export = AuditEvent.objects.get(action=AuditAction.EXPORT, object_id=str(dicom_study.public_id))
    assert export.detail["file"] == "deidentified_dicom"


def test_the_api_serves_it_too(dicom_study, clinician):
    _check_deidentified(api_as(clinician).get(api_url(dicom_study)), dicom_study)
    assert AuditEvent.objects.filter(
        action=AuditAction.EXPORT, object_id=str(dicom_study.public_id)
    ).exists()


def test_another_care_team_gets_a_404_audited(dicom_study, other_clinician):
    assert signed_in(other_clinician).get(web_url(dicom_study)).status_code == 404
    assert api_as(other_clinician).get(api_url(dicom_study)).status_code == 404
    denied = AuditEvent.objects.filter(
        action=AuditAction.DENIED, object_id=str(dicom_study.public_id)
    )
    assert denied.count() == 2
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()


def test_a_png_study_is_a_409_with_a_reason(clinician, patient):
    png = study_make(patient=patient, by=clinician)
    response = signed_in(clinician).get(web_url(png))
    assert response.status_code == 409
    assert "DICOM" in response.content.decode()
    api = api_as(clinician).get(api_url(png))
    assert api.status_code == 409
    assert api.json()["code"] == "not_dicom"
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()


def test_burned_in_annotation_is_a_409(clinician, patient):
    name = storage.write(_dicom(BurnedInAnnotation="YES"), ".dcm")
    study = study_make(patient=patient, by=clinician, kind=Study.Kind.DICOM, file_name=name)
    response = signed_in(clinician).get(web_url(study))
    assert response.status_code == 409
    assert "burned" in response.content.decode()
    api = api_as(clinician).get(api_url(study))
    assert api.status_code == 409 and api.json()["code"] == "not_deidentifiable"


def test_a_corrupt_stored_file_is_a_409(dicom_study, clinician):
    path = storage.path_of(dicom_study.file_name)
    path.write_bytes(path.read_bytes()[:-1])
    response = signed_in(clinician).get(web_url(dicom_study))
    assert response.status_code == 409 and "integrity check" in response.content.decode()
    assert api_as(clinician).get(api_url(dicom_study)).json()["code"] == "file_corrupt"


def test_the_study_page_links_it_for_dicom_studies_only(dicom_study, clinician, patient):
    client = signed_in(clinician)
    page = client.get(reverse("imaging:study", kwargs={"public_id": dicom_study.public_id}))
    assert web_url(dicom_study) in page.content.decode()
    assert "Download de-identified DICOM" in page.content.decode()
    png = study_make(patient=patient, by=clinician)
    other = client.get(reverse("imaging:study", kwargs={"public_id": png.public_id}))
    assert "de-identified DICOM" not in other.content.decode()
