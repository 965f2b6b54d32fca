"""Production refuses to start without its secrets; with them, Django's deploy checks pass.

Each case imports the settings in a fresh interpreter with a clean environment (the test process's
own environment carries the test settings' defaults).
"""

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from healthmentor import settings as base_settings

ROOT = Path(__file__).resolve().parent.parent.parent


def _production_secrets() -> dict[str, str]:
    return {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
        "PHI_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "PHI_BLIND_INDEX_KEY": secrets.token_urlsafe(32),
        "DJANGO_ALLOWED_HOSTS": "portal.example.org",
    }


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {"PATH": os.environ["PATH"], "CELERY_BROKER_URL": "memory://", **env}
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60
    )


def _load_settings(**env: str) -> subprocess.CompletedProcess[str]:
    return _run(["-c", "import healthmentor.settings"], **env)


def test_production_starts_with_every_secret_set():
    done = _load_settings(**_production_secrets())
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("debug", [None, "false", "0"])
def test_production_refuses_to_start_without_a_secret_key(debug):
    env = _production_secrets()
    del env["DJANGO_SECRET_KEY"]
    if debug is not None:
        env["DJANGO_DEBUG"] = debug

    done = _load_settings(**env)

    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert "DJANGO_SECRET_KEY" in done.stderr


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DJANGO_SECRET_KEY", base_settings.DEV_SECRET_KEY),
        ("DJANGO_SECRET_KEY", "short-but-random-" + secrets.token_hex(8)),
        ("DJANGO_SECRET_KEY", "django-insecure-" + secrets.token_urlsafe(64)),
        ("PHI_ENCRYPTION_KEYS", ""),
        ("PHI_ENCRYPTION_KEYS", base_settings.DEV_PHI_ENCRYPTION_KEY),
        ("PHI_BLIND_INDEX_KEY", ""),
        ("PHI_BLIND_INDEX_KEY", base_settings.DEV_PHI_BLIND_INDEX_KEY),
    ],
    ids=[
        "secret-key-development-default",
        "secret-key-short",
        "secret-key-django-insecure",
        "phi-keys-missing",
        "phi-keys-development-default",
        "blind-index-key-missing",
        "blind-index-key-development-default",
    ],
)
def test_production_refuses_a_missing_weak_or_development_secret(name, value):
    env = _production_secrets()
    env[name] = value

    done = _load_settings(**env)

    assert done.returncode != 0
    assert "ImproperlyConfigured" in done.stderr
    assert name in done.stderr
    assert value == "" or value not in done.stderr  # the message never echoes a secret


def test_a_laptop_runs_with_nothing_set_but_debug():
    done = _load_settings(DJANGO_DEBUG="true")
    assert done.returncode == 0, done.stderr


def test_deploy_checks_pass_with_nothing_silenced():
    done = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DJANGO_DEBUG="false",
        **_production_secrets(),
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "(0 silenced)" in done.stdout
    assert settings.SILENCED_SYSTEM_CHECKS == []


@pytest.mark.django_db
def test_a_signed_in_page_is_never_stored_and_allows_no_inline_script(client, clinician):
    client.force_login(clinician)

    response = client.get("/patients/")  # the list of the clinician's patients: PHI

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    policy = response["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    assert "frame-ancestors 'none'" in policy
