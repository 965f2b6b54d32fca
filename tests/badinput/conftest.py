"""Fixtures of the bad-input corpus: signed-in clients for each way in, and a guard that checks,
after the test, that nothing was stored or queued."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from imaging import storage
from imaging.models import Study
from tests.accounts.helpers import login_verified

# Clients with a real token (`client_for`, `api`: the clinician of the patient's care team).
from tests.api.conftest import api, client_for  # noqa: F401

# The imaging tests' trained bundle (session-scoped, shared through a file lock) for the worker
# corpus: re-exported here, since fixtures are visible only below the conftest that defines them.
from tests.imaging.conftest import imaging_bundle_folder, imaging_model  # noqa: F401


@pytest.fixture
def web(clinician) -> Client:
    """The same clinician signed in to the web pages."""
    client = Client()
    login_verified(client, clinician)
    return client


def imaging_files(root: Path) -> list[Path]:
    folder = root / storage.FOLDER
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


@pytest.fixture
def nothing_kept(
    settings: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks,
) -> Iterator[list[tuple[Any, ...]]]:
    """A MEDIA_ROOT of the test's own; after the test: no Study row, no file under it, no
    on-commit callback and no analysis task published. Yields the list of published tasks."""
    settings.MEDIA_ROOT = tmp_path / "media"
    published: list[tuple[Any, ...]] = []
    from imaging.tasks import study_analyze_task

    monkeypatch.setattr(study_analyze_task, "apply_async", lambda *a, **k: published.append((a, k)))
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        yield published
    assert not Study.objects.exists()
    assert imaging_files(settings.MEDIA_ROOT) == []
    assert callbacks == [] and published == []
