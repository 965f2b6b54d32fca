"""Sessions end after 30 idle minutes, 12 hours after sign-in however busy, and at logout."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from tests import factories
from tests.accounts.helpers import login_post

PROFILE = "/accounts/profile/"
LOGOUT = "/accounts/logout/"


def _session_row(client) -> Session:
    return Session.objects.get(session_key=client.cookies[settings.SESSION_COOKIE_NAME].value)


def _signed_in_client(client):
    user = factories.ClinicianFactory()
    assert login_post(client, user.email).status_code == 302
    assert client.get(PROFILE).status_code == 200
    return user


def _age_start(client, by: timedelta) -> None:
    session = client.session
    session["auth_started_at"] = (timezone.now() - by).isoformat()
    session.save()


@pytest.mark.django_db
def test_every_request_renews_the_idle_limit_to_30_minutes(client):
    _signed_in_client(client)
    Session.objects.filter(pk=_session_row(client).pk).update(
        expire_date=timezone.now() + timedelta(minutes=1)
    )
    assert client.get(PROFILE).status_code == 200  # 29 minutes idle: still signed in
    left = _session_row(client).expire_date - timezone.now()
    assert timedelta(minutes=29) < left <= timedelta(minutes=30)


@pytest.mark.django_db
def test_30_idle_minutes_end_the_session(client):
    _signed_in_client(client)
    Session.objects.filter(pk=_session_row(client).pk).update(
        expire_date=timezone.now() - timedelta(seconds=1)
    )
    response = client.get(PROFILE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_a_busy_session_still_lives_just_under_12_hours(client):
    _signed_in_client(client)
    _age_start(client, timedelta(hours=11, minutes=59))
    assert client.get(PROFILE).status_code == 200


@pytest.mark.django_db
def test_12_hours_after_sign_in_the_session_ends_however_active(client):
    _signed_in_client(client)
    _age_start(client, timedelta(hours=12, minutes=1))
    response = client.get(PROFILE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert "_auth_user_id" not in client.session
    # And it stays ended: the next request is anonymous too.
    assert client.get(PROFILE).status_code == 302


@pytest.mark.django_db
def test_sign_in_records_when_the_session_started(client):
    _signed_in_client(client)
    started = client.session["auth_started_at"]
    assert timezone.now() - timezone.datetime.fromisoformat(started) < timedelta(minutes=1)


@pytest.mark.django_db
def test_logout_is_post_only(client):
    client.force_login(factories.ClinicianFactory())
    assert client.get(LOGOUT).status_code == 405
    assert client.get(PROFILE).status_code == 200


@pytest.mark.django_db
def test_logout_kills_the_session_server_side(client):
    _signed_in_client(client)
    old_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    response = client.post(LOGOUT)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"
    assert not Session.objects.filter(session_key=old_key).exists()
    # Someone who copied the old cookie gets nowhere with it.
    thief = Client()
    thief.cookies[settings.SESSION_COOKIE_NAME] = old_key
    response = thief.get(PROFILE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_anonymous_logout_just_redirects(client):
    response = client.post(LOGOUT)
    assert response.status_code == 302


def _age_activity(client, by: timedelta) -> None:
    session = client.session
    session["auth_active_at"] = (timezone.now() - by).isoformat()
    session.save()


@pytest.mark.django_db
def test_background_polls_do_not_keep_an_idle_session_alive(client):
    _signed_in_client(client)
    poll = {"HTTP_X_BACKGROUND_POLL": "1", "HTTP_HX_REQUEST": "true"}
    _age_activity(client, timedelta(minutes=29))
    assert client.get("/accounts/notifications/bell/", **poll).status_code == 200  # still alive
    _age_activity(client, timedelta(minutes=31))  # the polls did not count as activity

    response = client.get("/accounts/notifications/bell/", **poll)

    assert response.status_code == 204 and response["HX-Refresh"] == "true"
    assert client.get(PROFILE).status_code == 302  # signed out


@pytest.mark.django_db
def test_a_request_of_the_users_own_counts_as_activity(client):
    _signed_in_client(client)
    _age_activity(client, timedelta(minutes=29))
    assert client.get(PROFILE).status_code == 200
    assert client.session["auth_active_at"] > (timezone.now() - timedelta(minutes=1)).isoformat()
