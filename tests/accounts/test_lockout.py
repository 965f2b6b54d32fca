"""django-axes lockout after 10 failures, and the sign-in events in the audit trail."""

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import AuditAction, AuditEvent, AuditOutcome
from tests import factories
from tests.accounts.helpers import login_post


def _fail(client, email: str, times: int):
    response = None
    for _ in range(times):
        response = login_post(client, email, "definitely-wrong-password")
    return response


@pytest.mark.django_db
def test_a_failed_login_creates_a_login_failed_event(client):
    user = factories.ClinicianFactory()
    _fail(client, user.email, 1)
    event = AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED)
    assert event.outcome == AuditOutcome.FAILURE
    assert event.actor is None
    assert event.ip == "127.0.0.1"


@pytest.mark.django_db
def test_nine_failures_do_not_lock_the_account(client):
    user = factories.ClinicianFactory()
    response = _fail(client, user.email, settings.AXES_FAILURE_LIMIT - 1)
    assert response.status_code == 200
    assert not AuditEvent.objects.filter(action=AuditAction.LOCKOUT).exists()
    assert login_post(client, user.email).status_code == 302


@pytest.mark.django_db
def test_the_tenth_failure_locks_out_and_is_audited(client):
    user = factories.ClinicianFactory()
    response = _fail(client, user.email, settings.AXES_FAILURE_LIMIT)
    assert response.status_code == 429
    assert "accounts/locked_out.html" in [t.name for t in response.templates]
    assert b"Sign-in temporarily blocked" in response.content
    assert b"30 minutes" in response.content
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).count() == 10
    lockout = AuditEvent.objects.get(action=AuditAction.LOCKOUT)
    assert lockout.outcome == AuditOutcome.DENIED
    assert lockout.detail["username"] == user.email


@pytest.mark.django_db
def test_the_correct_password_is_refused_after_lockout(client):
    user = factories.ClinicianFactory()
    _fail(client, user.email, settings.AXES_FAILURE_LIMIT)
    response = login_post(client, user.email)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN).exists()


@pytest.mark.django_db
def test_lockout_follows_the_account_to_another_browser(client):
    user = factories.ClinicianFactory()
    _fail(client, user.email, settings.AXES_FAILURE_LIMIT)
    elsewhere = Client(REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="Another browser")
    assert login_post(elsewhere, user.email).status_code == 429


@pytest.mark.django_db
def test_one_client_cannot_spray_many_accounts(client):
    victims = factories.ClinicianFactory.create_batch(2)
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        login_post(client, victims[attempt % 2].email, "definitely-wrong-password")
    # Locked by address + browser: even a third account's right password is refused from here.
    third = factories.ClinicianFactory()
    assert login_post(client, third.email).status_code == 429


@pytest.mark.django_db
def test_login_and_logout_are_audited(client):
    user = factories.ClinicianFactory()
    login_post(client, user.email)
    client.post(reverse("accounts:logout"))
    actions = list(
        AuditEvent.objects.filter(actor=user).order_by("seq").values_list("action", flat=True)
    )
    assert actions == [AuditAction.LOGIN, AuditAction.LOGOUT]
