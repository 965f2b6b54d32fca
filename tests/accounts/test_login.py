"""Signing in with email and password: success, refusals, and what a refusal reveals."""

import pytest
from django.conf import settings
from django.shortcuts import resolve_url
from django.urls import reverse

from accounts.models import AuditAction, AuditEvent
from tests import factories
from tests.accounts.helpers import login_post

LOGIN = "/accounts/login/"


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.django_db
def test_login_page_is_served_to_anonymous_visitors(client):
    response = client.get(reverse("accounts:login"))
    assert response.status_code == 200
    assert b'name="username"' in response.content
    assert b'name="password"' in response.content


@pytest.mark.django_db
def test_a_signed_in_user_is_sent_on_from_the_login_page(client):
    client.force_login(factories.ClinicianFactory())
    response = client.get(LOGIN)
    assert response.status_code == 302
    assert response["Location"] == resolve_url(settings.LOGIN_REDIRECT_URL)


@pytest.mark.django_db
def test_correct_password_signs_in_and_redirects(client):
    user = factories.ClinicianFactory()
    response = login_post(client, user.email)
    assert response.status_code == 302
    assert response["Location"] == resolve_url(settings.LOGIN_REDIRECT_URL)
    assert _signed_in(client)
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN, actor=user).exists()


@pytest.mark.django_db
def test_email_is_matched_whatever_its_case(client):
    user = factories.ClinicianFactory(email="mixed.case@hospital.test")
    response = login_post(client, "  Mixed.Case@Hospital.TEST ")
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(user.pk)


@pytest.mark.django_db
def test_next_on_this_site_is_followed(client):
    user = factories.ClinicianFactory()
    response = login_post(client, user.email, next="/accounts/profile/")
    assert response["Location"] == "/accounts/profile/"


@pytest.mark.django_db
def test_next_pointing_elsewhere_is_ignored(client):
    user = factories.ClinicianFactory()
    response = login_post(client, user.email, next="https://evil.example/steal")
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


@pytest.mark.django_db
def test_wrong_password_gives_a_generic_error_and_an_audit_event(client):
    user = factories.ClinicianFactory()
    response = login_post(client, user.email, "not-the-password")
    assert response.status_code == 200
    assert b"The email address or password is not correct." in response.content
    assert not _signed_in(client)
    failed = AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED)
    assert failed.detail["username"] == user.email
    assert "not-the-password" not in str(failed.detail)


@pytest.mark.django_db
def test_unknown_email_gets_the_same_answer_as_a_wrong_password(client):
    response = login_post(client, "nobody@hospital.test")
    assert response.status_code == 200
    assert b"The email address or password is not correct." in response.content


@pytest.mark.django_db
def test_unapproved_user_with_the_right_password_is_told_to_wait(client):
    user = factories.PendingUserFactory()
    response = login_post(client, user.email)
    assert response.status_code == 200
    assert b"waiting for an administrator&#x27;s approval" in response.content
    assert not _signed_in(client)


@pytest.mark.django_db
def test_unapproved_user_with_a_wrong_password_learns_nothing(client):
    user = factories.PendingUserFactory()
    response = login_post(client, user.email, "wrong-password-123")
    assert b"approval" not in response.content
    assert b"The email address or password is not correct." in response.content


@pytest.mark.django_db
def test_deactivated_user_gets_the_generic_error(client):
    user = factories.ClinicianFactory(is_active=False)
    response = login_post(client, user.email)
    assert b"The email address or password is not correct." in response.content
    assert b"approval" not in response.content
    assert not _signed_in(client)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "data",
    [
        {"username": "staff\x00@hospital.test", "password": "whatever-password"},
        {"username": "staff@hospital.test", "password": "pass\x00word"},
        {"username": "not-an-email", "password": "whatever-password"},
        {"username": "", "password": ""},
        {"username": "a" * 300 + "@hospital.test", "password": "x"},
        {"password": "x" * 5000, "username": "staff@hospital.test"},
        {},
    ],
)
def test_malformed_login_input_is_a_form_error_not_a_500(client, data):
    response = client.post(LOGIN, data)
    assert response.status_code == 200
    assert b"errorlist" in response.content
    assert not _signed_in(client)
    # Nothing reached authenticate(): no failure was counted against anyone.
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).exists()


@pytest.mark.django_db
def test_login_accepts_only_get_and_post(client):
    assert client.put(LOGIN).status_code == 405
