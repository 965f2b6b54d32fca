"""Test settings: the real settings with test-only secrets and embedded defaults.

pytest-django reads settings before the root conftest runs, so these defaults live here. With
DATABASE_URL and CELERY_BROKER_URL set (CI) the tests run on PostgreSQL and Redis.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("DJANGO_DEBUG", "false")
os.environ.setdefault(
    "DJANGO_SECRET_KEY", "test-secret-key-" + "x7Q2r9Lk3Vb8Nw1Zc5Tf0Hy4Jm6Pd2Sg" * 2
)
# Two real Fernet keys for tests; rotation tests override PHI_ENCRYPTION_KEYS themselves.
os.environ.setdefault("PHI_ENCRYPTION_KEYS", "dGVzdC1waGkta2V5LWEtMzItYnl0ZXMtbG9uZy0wMDE=")
os.environ.setdefault("PHI_BLIND_INDEX_KEY", "test-blind-index-key")
os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")
if not os.environ.get("CELERY_BROKER_URL"):
    os.environ["CELERY_BROKER_URL"] = "filesystem://"
# Each test run gets its own media and broker folders. Processes the tests start (a Celery worker,
# the devserver) import these settings again: HEALTHMENTOR_TEST_RUN_DIR hands them the same folder.
if os.environ.get("HEALTHMENTOR_TEST_RUN_DIR"):
    _RUN_DIR = Path(os.environ["HEALTHMENTOR_TEST_RUN_DIR"])
else:
    _RUN_DIR = Path(tempfile.mkdtemp(prefix="healthmentor-test-"))
    os.environ["HEALTHMENTOR_TEST_RUN_DIR"] = str(_RUN_DIR)
    atexit.register(shutil.rmtree, _RUN_DIR, ignore_errors=True)
os.environ.setdefault("MEDIA_ROOT", str(_RUN_DIR / "media"))
os.environ.setdefault("IMAGING_MODEL_ROOT", str(_RUN_DIR / "models" / "imaging"))
os.environ.setdefault("BENEFIT_MODEL_ROOT", str(_RUN_DIR / "models" / "benefit"))
# Tests of recommendations turn it on (the `settings` fixture); other tests' background refreshes
# would race their database teardown.
os.environ.setdefault("RECOMMENDATIONS_AUTO_REFRESH", "false")
# pytest-xdist workers share the run folder; each gets its own broker queues.
_BROKER_SCOPE = os.environ.get("PYTEST_XDIST_WORKER", "main")

from healthmentor.broker import filesystem_transport_options  # noqa: E402
from healthmentor.settings import *  # noqa: E402, F403
from healthmentor.settings import DATABASES  # noqa: E402

TEST_RUN_DIR = _RUN_DIR
if CELERY_BROKER_URL.startswith("filesystem://"):  # noqa: F405
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_transport_options(_RUN_DIR / _BROKER_SCOPE)
elif CELERY_BROKER_URL.startswith("redis"):  # noqa: F405
    # A shared Redis (a developer's devserver, another test run) never sees this run's messages.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,
        "global_keyprefix": f"{_RUN_DIR.name}-{_BROKER_SCOPE}:",
    }
CELERY_BEAT_SCHEDULE_FILENAME = str(_RUN_DIR / f"celerybeat-schedule-{_BROKER_SCOPE}")

# Plain HTTP in tests (the test client and the browser tests' live server).
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed, tests only
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {"anon": "100000/min", "user": "100000/min"}  # noqa: F405

# A worker process started by the integration tests must reach the same test database: with
# SQLite it is a file, not memory; in the run's folder, so that two test runs never share it.
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"] = {"NAME": str(_RUN_DIR / "test-db.sqlite3")}
HELP_TOUR_AUTOSTART = False  # other apps' browser tests click the page; tests/help turn it on
