"""A worker child's limits while it analyses a study: the memory guard (imaging.guard) and the
soft time limit each end the study FAILED with a reason at its first attempt, instead of three
attempts into the same wall. The real worker, a real pathological DICOM and the child replaced
are proven by the `bomb` drill (proof/drills/scenarios.py, `make proof`)."""

import threading
import time

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from accounts.models import Notification
from imaging import guard
from imaging.models import Study
from imaging.services import study_analyze, study_fail_over_memory
from tests.imaging.conftest import study_make


class Recorder:
    def __init__(self) -> None:
        self.handed: list[tuple[int, int]] = []
        self.kills = 0

    def on_exceeded(self, study_id: int, rss: int) -> None:
        self.handed.append((study_id, rss))

    def kill(self) -> None:
        self.kills += 1


def test_this_process_resident_size_is_read():
    assert guard.rss_bytes() > 10 * 2**20


def test_over_the_limit_with_a_study_in_hand_the_guard_hands_it_over_then_kills():
    seen = Recorder()
    watchdog = guard.MemoryGuard(2**20, seen.on_exceeded, kill=seen.kill)
    assert watchdog.check() is False  # no study in hand: nothing to stop
    with watchdog.watching(42):
        assert watchdog.check() is True
    assert seen.kills == 1
    assert seen.handed[0][0] == 42 and seen.handed[0][1] > 2**20
    assert watchdog.study_id is None


def test_under_the_limit_nothing_happens():
    seen = Recorder()
    watchdog = guard.MemoryGuard(2**50, seen.on_exceeded, kill=seen.kill)
    with watchdog.watching(7):
        assert watchdog.check() is False
    assert (seen.handed, seen.kills) == ([], 0)


def test_a_failing_callback_still_kills():
    def broken(study_id: int, rss: int) -> None:
        raise RuntimeError("database away")

    seen = Recorder()
    watchdog = guard.MemoryGuard(2**20, broken, kill=seen.kill)
    with watchdog.watching(1):
        assert watchdog.check() is True
    assert seen.kills == 1


def test_the_thread_acts_within_its_sampling_interval():
    seen = Recorder()
    watchdog = guard.MemoryGuard(2**20, seen.on_exceeded, every_s=0.01, kill=seen.kill)
    watchdog.thread.start()
    try:
        with watchdog.watching(5):
            deadline = time.monotonic() + 5
            while not seen.kills and time.monotonic() < deadline:
                time.sleep(0.01)
    finally:
        watchdog.stop()
        watchdog.thread.join(timeout=2)
    assert seen.kills == 1 and seen.handed[0][0] == 5
    assert not watchdog.thread.is_alive()


def test_start_is_off_with_a_zero_limit():
    assert guard.start(0, lambda study_id, rss: None) is None


@pytest.mark.django_db(transaction=True)  # the guard's thread has a connection of its own
def test_a_study_over_memory_fails_with_a_reason_and_a_notice(clinician, patient, settings):
    settings.IMAGING_WORKER_MEMORY_LIMIT_MB = 1024
    study = study_make(patient=patient, by=clinician, state=Study.State.QUEUED)
    Study.objects.filter(pk=study.pk).update(
        state=Study.State.RUNNING, claim_token="8d2f6c1e-1111-4222-8333-944455556666", attempts=1
    )
    # The guard calls from its own thread, on its own database connection.
    results: list[bool] = []
    thread = threading.Thread(
        target=lambda: results.append(
            study_fail_over_memory(study_id=study.pk, rss_bytes=1300 * 2**20)
        )
    )
    thread.start()
    thread.join()
    assert results == [True]
    study.refresh_from_db()
    assert (study.state, study.failure_code, study.attempts) == (
        Study.State.FAILED,
        "memory_limit",
        1,
    )
    assert "1024 MB" in study.failure_reason and "1300 MB" in study.failure_reason
    assert Notification.objects.filter(user=clinician, url__contains=str(study.public_id)).exists()
    # Already FAILED (or DONE, or never claimed): nothing more happens.
    assert study_fail_over_memory(study_id=study.pk, rss_bytes=2**31) is False


@pytest.mark.django_db
def test_a_study_out_of_time_fails_at_its_first_attempt(
    clinician, patient, imaging_model, monkeypatch
):
    """The soft time limit arrives inside the pipeline; a retry would meet it again."""
    from imaging import pipeline

    def slow(*args, **kwargs):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(pipeline, "study_run", slow)
    study = study_make(patient=patient, by=clinician, state=Study.State.QUEUED)
    assert study_analyze(study_id=study.pk).outcome == "failed"
    study.refresh_from_db()
    assert (study.state, study.failure_code, study.attempts) == (
        Study.State.FAILED,
        "time_limit",
        1,
    )
    assert "limit" in study.failure_reason and "Traceback" not in study.failure_reason
