"""Opening a ticket: a patient only one the user may see, the page as a same-site path without
its query string, a screenshot checked by content and kept encrypted, an audit event when a
patient is named, and feedback on an AI result linked to it and to its model version."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import Http404
from django.urls import reverse
from PIL import Image

from accounts.models import AuditAction, AuditEvent
from support import storage
from support.models import Ticket
from support.services import feedback_on_result, page_path_clean, ticket_open
from tests import factories
from tests.support.conftest import ticket_make

pytestmark = pytest.mark.django_db

NEW = "/support/tickets/new/"
API = "/api/v1/support/tickets/"


def _form(**extra):
    return {
        "category": "data_correction",
        "subject": "Wrong weight",
        "description": "The weight is in pounds, not kg.",
        **extra,
    }


def _stored_files() -> list:
    root = storage._root()
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


# --- the patient ---------------------------------------------------------------------------------


def test_a_patient_the_user_may_see_is_offered_and_attached_with_an_audit_event(
    client, clinician, patient
):
    client.force_login(clinician)
    form = client.get(NEW)
    assert f'value="{patient.public_id}"'.encode() in form.content
    response = client.post(NEW, _form(patient=str(patient.public_id)))
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.patient == patient
    assert response["Location"] == reverse("support:ticket", args=[ticket.public_id])
    event = AuditEvent.objects.filter(action=AuditAction.CREATE, object_type="support.ticket").get()
    assert event.object_id == str(ticket.public_id)
    assert event.detail["patient"] == str(patient.public_id)


def test_another_teams_patient_is_never_offered_nor_accepted(client, other_clinician, patient):
    client.force_login(other_clinician)
    form = client.get(NEW)
    assert str(patient.public_id).encode() not in form.content
    assert patient.family_name.encode() not in form.content
    response = client.post(NEW, _form(patient=str(patient.public_id)))
    assert response.status_code == 400
    assert not Ticket.objects.exists()
    api = client.post(API, _form(patient=str(patient.public_id)), "application/json")
    assert api.status_code == 404
    assert patient.family_name not in api.content.decode()
    with pytest.raises(Http404):
        ticket_open(by=other_clinician, **_form(), patient=patient.public_id)
    assert not Ticket.objects.exists()


# --- the page ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("/patients/?q=Jane+Doe", "/patients/"),
        ("/imaging/#viewer", "/imaging/"),
        ("", ""),
    ],
)
def test_the_page_keeps_its_path_only(given, kept):
    assert page_path_clean(given) == kept


@pytest.mark.parametrize(
    "given",
    [
        "https://evil.test/phish",
        "//evil.test/x",
        "/\\evil.test",
        "javascript:alert(1)",
        "patients/",
    ],
)
def test_anything_but_a_same_site_path_is_refused(given):
    with pytest.raises(ValidationError):
        page_path_clean(given)


def test_the_form_takes_the_page_from_the_link_without_its_query(client, clinician):
    client.force_login(clinician)
    form = client.get(NEW, {"from": "/patients/?q=Doe"})
    assert form.context["form"].initial["page"] == "/patients/"
    referred = client.get(NEW, HTTP_REFERER="http://testserver/imaging/?modality=CT")
    assert referred.context["form"].initial["page"] == "/imaging/"
    elsewhere = client.get(NEW, HTTP_REFERER="https://evil.test/imaging/")
    assert elsewhere.context["form"].initial["page"] == ""


def test_a_posted_page_is_stored_as_a_path_and_another_host_refused(client, clinician):
    client.force_login(clinician)
    client.post(NEW, _form(page="/patients/?q=Jane+Doe"))
    assert Ticket.objects.get().page == "/patients/"
    refused = client.post(NEW, _form(page="https://evil.test/x"))
    assert refused.status_code == 400
    assert Ticket.objects.count() == 1
    api = client.post(API, _form(page="https://evil.test/x"), "application/json")
    assert api.status_code == 400
    assert "page" in api.json()


# --- the screenshot ------------------------------------------------------------------------------


def test_a_screenshot_is_kept_encrypted_and_served_to_its_owner_and_admins_only(
    client, clinician, other_clinician, png, admin_client
):
    client.force_login(clinician)
    upload = SimpleUploadedFile("screen.png", png, content_type="image/png")
    client.post(NEW, _form(screenshot=upload))
    ticket = Ticket.objects.get()
    assert ticket.screenshot_type == "image/png"
    on_disk = storage.path_of(ticket.screenshot_name).read_bytes()
    assert png not in on_disk and not on_disk.startswith(b"\x89PNG")
    url = reverse("support:ticket_screenshot", args=[ticket.public_id])
    served = client.get(url)
    assert served.status_code == 200
    assert served.content == png
    assert served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in served["Cache-Control"]
    assert admin_client.get(url).content == png
    client.force_login(other_clinician)
    assert client.get(url).status_code == 404


def test_an_html_file_named_png_is_refused_and_nothing_is_stored(client, clinician):
    client.force_login(clinician)
    fake = SimpleUploadedFile(
        "screen.png", b"<html><script>alert(1)</script></html>", content_type="image/png"
    )
    before = _stored_files()
    response = client.post(NEW, _form(screenshot=fake))
    assert response.status_code == 400
    assert "not a PNG or JPEG image" in response.content.decode()
    assert not Ticket.objects.exists()
    assert _stored_files() == before


def test_a_truncated_png_and_a_pixel_bomb_are_refused(client, clinician, png, settings):
    client.force_login(clinician)
    cut = SimpleUploadedFile("a.png", png[: len(png) // 2], content_type="image/png")
    assert client.post(NEW, _form(screenshot=cut)).status_code == 400
    huge = io.BytesIO()
    Image.new("1", (8000, 6000)).save(huge, format="PNG")  # 48 M pixels, a few kB
    bomb = SimpleUploadedFile("b.png", huge.getvalue(), content_type="image/png")
    response = client.post(NEW, _form(screenshot=bomb))
    assert response.status_code == 400
    assert not Ticket.objects.exists()


def test_a_jpeg_screenshot_is_accepted(client, clinician):
    client.force_login(clinician)
    jpeg = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(jpeg, format="JPEG")
    upload = SimpleUploadedFile("s.jpg", jpeg.getvalue(), content_type="image/jpeg")
    assert client.post(NEW, _form(screenshot=upload)).status_code == 302
    assert Ticket.objects.get().screenshot_type == "image/jpeg"


# --- text ----------------------------------------------------------------------------------------


def test_subject_and_description_are_encrypted_at_rest(clinician):
    from django.db import connection

    ticket = ticket_make(clinician, subject="Canary subject QX7", description="Canary body QX7")
    with connection.cursor() as cursor:
        cursor.execute("SELECT subject, description FROM support_ticket WHERE id = %s", [ticket.pk])
        row = cursor.fetchone()
    assert b"QX7" not in bytes(row[0]) and b"QX7" not in bytes(row[1])


def test_a_description_past_the_limit_is_refused(client, clinician):
    client.force_login(clinician)
    response = client.post(API, _form(description="x" * 5001), "application/json")
    assert response.status_code == 400
    assert "description" in response.json()


# --- feedback on AI results ----------------------------------------------------------------------


def test_this_result_looks_wrong_on_a_risk_assessment(client, clinician, assessment, version):
    client.force_login(clinician)
    result_page = client.get(reverse("prediction:assessment", args=[assessment.public_id]))
    link = f"{NEW}?risk_assessment={assessment.public_id}"
    assert link.encode() in result_page.content
    form = client.get(link)
    assert form.status_code == 200
    initial = form.context["form"].initial
    assert initial["page"] == reverse("prediction:assessment", args=[assessment.public_id])
    response = client.post(
        NEW,
        {
            "category": "ai_result",
            "subject": initial["subject"],
            "description": "The HbA1c used is a year old.",
            "page": initial["page"],
            "risk_assessment": str(assessment.public_id),
        },
    )
    assert response.status_code == 302
    ticket = Ticket.objects.get()
    assert ticket.category == Ticket.Category.AI_RESULT
    assert ticket.risk_assessment == assessment
    assert ticket.risk_model_version == version
    assert ticket.patient == assessment.patient
    assert version.version in ticket.model_label


def test_this_result_looks_wrong_on_a_study(client, clinician, study, imaging_version):
    client.force_login(clinician)
    page = client.get(reverse("imaging:study", args=[study.public_id]))
    assert f"{NEW}?study={study.public_id}".encode() in page.content
    ticket = feedback_on_result(by=clinician, study=study.public_id, description="Not a nodule.")
    assert ticket.study == study
    assert ticket.imaging_model_version == imaging_version
    assert ticket.model_label == "chest-ct support-test"
    assert ticket.subject == "AI result looks wrong: chest-ct support-test"


def test_feedback_on_a_result_the_user_may_not_see_is_a_404(
    client, other_clinician, assessment, study
):
    client.force_login(other_clinician)
    assert client.get(NEW, {"risk_assessment": str(assessment.public_id)}).status_code == 404
    assert client.get(NEW, {"study": str(study.public_id)}).status_code == 404
    api = client.post(
        API, _form(category="ai_result", study=str(study.public_id)), "application/json"
    )
    assert api.status_code == 404
    with pytest.raises(Http404):
        feedback_on_result(
            by=other_clinician, risk_assessment=assessment.public_id, description="x"
        )
    assert not Ticket.objects.exists()


def test_a_result_and_another_patient_together_are_refused(clinician, assessment, team):
    other_patient = factories.patient_make(team=team, by=clinician)
    with pytest.raises(ValidationError):
        ticket_open(
            by=clinician,
            **_form(),
            patient=other_patient.public_id,
            risk_assessment=assessment.public_id,
        )


def test_feedback_counts_on_the_model_quality_dashboard(
    admin_client, clinician, assessment, version, study, support_admin
):
    def figures():
        listing = admin_client.get(reverse("dashboards:models"))
        quality = admin_client.get(reverse("dashboards:model_quality", args=[version.public_id]))
        return listing.content.decode(), quality.content.decode()

    listing, quality = figures()
    assert 'data-feedback-open="0" data-feedback-total="0"' in listing
    first = feedback_on_result(by=clinician, risk_assessment=assessment.public_id, description="x")
    feedback_on_result(by=clinician, risk_assessment=assessment.public_id, description="y")
    feedback_on_result(by=clinician, study=study.public_id, description="z")
    ticket_make(clinician)  # not about a result: not counted
    from support.services import ticket_set_status

    ticket_set_status(by=support_admin, ticket=first, status=Ticket.Status.RESOLVED)
    listing, quality = figures()
    assert 'data-feedback-open="1" data-feedback-total="2"' in listing
    assert "1 / 2" in quality
    assert "chest-ct" in listing  # the imaging models' table


def test_a_screenshot_over_the_size_limit_is_refused_while_it_is_received(clinician, png):
    before = _stored_files()
    oversize = [png, b"\0" * (storage.MAX_BYTES + 1)]
    with pytest.raises(ValidationError) as refused:
        ticket_open(by=clinician, **_form(), screenshot=oversize)
    assert "screenshot" in refused.value.message_dict
    assert not Ticket.objects.exists()
    assert _stored_files() == before
