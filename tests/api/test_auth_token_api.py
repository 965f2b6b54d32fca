"""POST/DELETE /api/v1/auth/token/: password (+ second factor) for a token, through django-axes;
and session authentication with CSRF enforced."""

from typing import Any

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django_otp.oath import totp
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import AuditAction, AuditEvent
from tests import factories

pytestmark = pytest.mark.django_db

URL = "/api/v1/auth/token/"


def sign_in(client: APIClient, email, password=factories.PASSWORD, **extra):
    return client.post(URL, {"email": email, "password": password, **extra}, format="json")


def test_email_and_password_give_a_token_that_opens_the_api(anon, clinician, patient):
    response = sign_in(anon, clinician.email)
    assert response.status_code == 200
    key = response.json()["token"]
    assert Token.objects.get(user=clinician).key == key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get(f"/api/v1/patients/{patient.public_id}/").status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN, actor=clinician).exists()


def test_the_email_is_case_insensitive(anon, clinician):
    assert sign_in(anon, f"  {clinician.email.upper()} ").status_code == 200


def test_a_new_token_replaces_the_old_one(anon, clinician):
    first = sign_in(anon, clinician.email).json()["token"]
    second = sign_in(anon, clinician.email).json()["token"]
    assert first != second
    old = APIClient()
    old.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    assert old.get("/api/v1/patients/").status_code == 401


@pytest.mark.parametrize("email", ["nobody@hospital.test", None])
def test_wrong_credentials_are_a_readable_401_and_audited(anon, clinician, email):
    response = sign_in(anon, email or clinician.email, "not the password")
    assert response.status_code == 401
    assert response.json() == {
        "detail": "The email address, password or code is not correct.",
        "code": "wrong_credentials",
    }
    assert response["WWW-Authenticate"] == "Token"
    assert not Token.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).count() == 1


def test_an_inactive_account_gets_no_token(anon):
    pending = factories.PendingUserFactory()
    assert sign_in(anon, pending.email).status_code == 401
    assert not Token.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"email": "not-an-email", "password": "x"},
        {"email": "a@b.test"},
        {"email": "a@b.test", "password": "pass\x00word"},
        {"email": ["a@b.test"], "password": {"x": 1}},
    ],
)
def test_malformed_requests_are_400_and_not_counted(anon, body):
    response = anon.post(URL, body, format="json")
    assert response.status_code == 400
    assert not AccessAttempt.objects.exists()


def test_ten_failures_lock_the_account_even_for_the_right_password(anon, clinician):
    limit = settings.AXES_FAILURE_LIMIT
    assert limit == 10
    for attempt in range(1, limit):
        assert sign_in(anon, clinician.email, f"wrong {attempt}").status_code == 401
    locked = sign_in(anon, clinician.email, "wrong again")
    assert locked.status_code == 403
    assert locked.json()["code"] == "locked_out"
    assert locked["Content-Type"] == "application/json"
    right = sign_in(anon, clinician.email)
    assert right.status_code == 403
    assert right.json()["code"] == "locked_out"
    assert "locked" in right.json()["detail"].lower()
    assert not Token.objects.exists()
    assert AuditEvent.objects.filter(action=AuditAction.LOCKOUT).exists()


def test_the_lockout_holds_from_another_client_too(anon, clinician):
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        sign_in(anon, clinician.email, f"wrong {attempt}")
    elsewhere = APIClient(REMOTE_ADDR="10.9.8.7", HTTP_USER_AGENT="another browser")
    assert sign_in(elsewhere, clinician.email).status_code == 403


def test_a_success_clears_earlier_failures(anon, clinician):
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        sign_in(anon, clinician.email, f"wrong {attempt}")
    assert sign_in(anon, clinician.email).status_code == 200
    for attempt in range(settings.AXES_FAILURE_LIMIT - 1):
        assert sign_in(anon, clinician.email, f"wrong {attempt}").status_code == 401
    assert sign_in(anon, clinician.email).status_code == 200


# --- second factor ------------------------------------------------------------------------------


def test_an_account_with_a_second_factor_needs_its_code(anon, clinician):
    device: Any = factories.TOTPDeviceFactory(user=clinician)
    response = sign_in(anon, clinician.email)
    assert response.status_code == 401
    assert response.json()["code"] == "otp_required"
    assert not Token.objects.exists()
    response = sign_in(anon, clinician.email, otp_token=f"{totp(device.bin_key):06d}")
    assert response.status_code == 200
    assert Token.objects.filter(user=clinician).exists()


def test_a_wrong_code_counts_as_a_failed_sign_in(anon, clinician):
    device: Any = factories.TOTPDeviceFactory(user=clinician)
    wrong = f"{(totp(device.bin_key) + 1) % 1_000_000:06d}"
    response = sign_in(anon, clinician.email, otp_token=wrong)
    assert response.status_code == 401
    assert response.json()["code"] == "wrong_credentials"
    assert AccessAttempt.objects.get().failures_since_start == 1
    assert not Token.objects.exists()


def test_an_admin_without_a_second_factor_gets_no_token(anon, admin_user):
    response = sign_in(anon, admin_user.email)
    assert response.status_code == 403
    assert response.json()["code"] == "two_factor_setup_required"
    device: Any = factories.TOTPDeviceFactory(user=admin_user)
    response = sign_in(anon, admin_user.email, otp_token=f"{totp(device.bin_key):06d}")
    assert response.status_code == 200


# --- revoking, sessions -------------------------------------------------------------------------


def test_delete_revokes_the_token(anon, clinician):
    key = sign_in(anon, clinician.email).json()["token"]
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.delete(URL).status_code == 204
    assert not Token.objects.filter(user=clinician).exists()
    assert api.get("/api/v1/patients/").status_code == 401
    assert AuditEvent.objects.filter(
        action=AuditAction.DELETE, detail__change="api_token_revoked"
    ).exists()


def test_delete_needs_authentication(anon):
    assert anon.delete(URL).status_code == 401


def test_a_session_reads_but_must_send_the_csrf_token_to_write(clinician, patient):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(clinician)
    assert browser.get(f"/api/v1/patients/{patient.public_id}/").status_code == 200
    body = factories.RECORD_ENTRY_EXAMPLES["allergies"]
    url = f"/api/v1/patients/{patient.public_id}/allergies/"
    response = browser.post(url, body, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    # With the cookie's secret in the header, as a page's script sends it.
    secret = "a1B2c3D4" * 4
    browser.cookies[settings.CSRF_COOKIE_NAME] = secret
    response = browser.post(url, body, format="json", HTTP_X_CSRFTOKEN=secret)
    assert response.status_code == 201
