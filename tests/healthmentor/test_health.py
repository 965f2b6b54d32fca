"""Liveness and readiness probes: status codes, components, and nothing but components."""

import pytest
from django.test import override_settings

ANSWER_KEYS = {"status", "checks"}
CHECK_KEYS = {"ok", "ms", "error"}


def test_live_answers_without_touching_anything(client):
    response = client.get("/health/live")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_ready_when_database_broker_and_media_storage_answer(client):
    response = client.get("/health/ready")

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "broker", "media_storage"}
    assert all(check["ok"] for check in body["checks"].values())


@pytest.mark.django_db
def test_ready_reports_components_and_timings_only(client, patient):
    response = client.get("/health/ready")

    body = response.json()
    assert set(body) == ANSWER_KEYS
    for check in body["checks"].values():
        assert set(check) <= CHECK_KEYS
    text = response.content.decode()
    assert patient.mrn not in text
    assert patient.family_name not in text


@pytest.mark.django_db
def test_ready_is_never_cached(client):
    assert "no-cache" in client.get("/health/ready")["Cache-Control"]


@pytest.mark.django_db
def test_ready_is_503_naming_the_broker_when_the_broker_is_down(client, unused_tcp_port):
    dead_broker = f"redis://127.0.0.1:{unused_tcp_port}/0"
    options = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
    with override_settings(CELERY_BROKER_URL=dead_broker, CELERY_BROKER_TRANSPORT_OPTIONS=options):
        response = client.get("/health/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True
    assert str(unused_tcp_port) not in response.content.decode()  # names, not addresses


@pytest.mark.django_db
def test_ready_is_503_naming_media_storage_when_it_cannot_be_written(client, tmp_path):
    # A path under a regular file cannot be created, even by root (chmod would not stop root).
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    with override_settings(MEDIA_ROOT=str(blocker / "media")):
        response = client.get("/health/ready")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["media_storage"]["ok"] is False
    assert checks["database"]["ok"] is True
    assert checks["broker"]["ok"] is True


@pytest.fixture
def unused_tcp_port():
    """A port nothing listens on: bound and released, so connections to it are refused."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
