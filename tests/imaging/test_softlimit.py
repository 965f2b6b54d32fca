"""The soft time limit survives code that catches it (imaging.softlimit).

pydicom catches whatever a decoding plugin raises on a frame and decodes that frame with the next
plugin: Celery's SoftTimeLimitExceeded, raised by the SIGUSR1 handler inside the plugin, was
swallowed and a pathological DICOM decoded on, past its limit, to DONE (the `bomb` drill caught
it on a faster machine). Here the real signal is delivered to this process while a long DICOM is
decoded, with billiard's handler in place as in a worker child.
"""

import os
import signal

import pytest
from billiard.pool import soft_timeout_sighandler

from imaging import softlimit
from imaging.intake import IntakeError, IntakeLimits, pixels_decode
from imaging.models import Study
from imaging.services import study_analyze
from tests.imaging.conftest import study_make
from tests.imaging.intake.builders import ct_slice, dicom_bytes


@pytest.fixture
def worker_child_signals():
    """SIGUSR1 as a prefork child has it (billiard's handler); restored afterwards."""
    before = signal.getsignal(signal.SIGUSR1)
    signal.signal(signal.SIGUSR1, soft_timeout_sighandler)
    softlimit.arm()
    yield
    signal.signal(signal.SIGUSR1, before)
    softlimit._fired = False


def long_dicom(tmp_path, frames: int):
    from proof.drills.scenarios import slow_dicom

    path = tmp_path / "series.dcm"
    path.write_bytes(slow_dicom(frames=frames))
    return path


def test_arm_changes_no_handler_outside_a_worker_child():
    before = signal.getsignal(signal.SIGUSR1)
    softlimit.arm()
    assert signal.getsignal(signal.SIGUSR1) is before
    assert softlimit.fired() is False
    softlimit.check()  # nothing fired: no exception


def test_the_signal_inside_a_decoding_plugin_stops_the_decode_at_the_next_frame(
    tmp_path, worker_child_signals, monkeypatch
):
    """The real signal, delivered while a plugin decodes frame 5 (not after a wall-clock delay:
    how long a decode takes varies several-fold on a shared machine): pydicom catches the
    exception and decodes the frame with its next plugin; the decode stops right after."""
    from pydicom.pixels import get_decoder
    from pydicom.uid import RLELossless

    decoder = get_decoder(RLELossless)
    calls = []

    def counted(name, plugin):
        def decode(*args, **kwargs):
            calls.append(name)
            if len(calls) == 5:
                os.kill(os.getpid(), signal.SIGUSR1)  # the handler runs here, inside the plugin
            return plugin(*args, **kwargs)

        return decode

    for name, plugin in list(decoder._available.items()):
        monkeypatch.setitem(decoder._available, name, counted(name, plugin))
    path = long_dicom(tmp_path, frames=50)

    with pytest.raises(softlimit.SoftTimeLimitExceeded):
        pixels_decode(path, "dicom", limits=IntakeLimits())

    assert softlimit.fired() is True
    # Frames 1-4 decoded; frame 5 interrupted inside its plugin, and pydicom decoded it again
    # (the swallowed limit: it logs "failed to decode the frame at index 4" and retries with
    # the plugins it has); then the decode stopped: no sixth frame was started.
    assert len(calls) == 6, calls


def test_a_limit_a_plugin_swallowed_stops_the_decode_at_the_next_frame(
    tmp_path, worker_child_signals
):
    path = tmp_path / "ct.dcm"
    path.write_bytes(dicom_bytes(ct_slice()))
    assert pixels_decode(path, "dicom", limits=IntakeLimits()).frames.shape[0] == 1
    softlimit._fired = True  # what the handler records before pydicom catches its exception
    with pytest.raises(softlimit.SoftTimeLimitExceeded):
        pixels_decode(path, "dicom", limits=IntakeLimits())
    softlimit.arm()  # the next task starts clean
    assert pixels_decode(path, "dicom", limits=IntakeLimits()).frames.shape[0] == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "swallowed_as",
    [
        pytest.param(None, id="the run went on and finished"),
        pytest.param(IntakeError("undecodable_pixels", "could not be decoded"), id="undecodable"),
        pytest.param(RuntimeError("all plugins failed"), id="another error"),
    ],
)
def test_a_study_whose_limit_was_swallowed_fails_over_time(
    clinician, patient, imaging_model, monkeypatch, worker_child_signals, swallowed_as
):
    from imaging import pipeline

    real_run = pipeline.study_run

    def run_past_the_limit(*args, **kwargs):
        softlimit._fired = True  # delivered, then caught inside a library
        if swallowed_as is not None:
            raise swallowed_as
        return real_run(*args, **kwargs)

    monkeypatch.setattr(pipeline, "study_run", run_past_the_limit)
    study = study_make(patient=patient, by=clinician, state=Study.State.QUEUED)
    assert study_analyze(study_id=study.pk).outcome == "failed"
    study.refresh_from_db()
    assert (study.state, study.failure_code, study.attempts) == (
        Study.State.FAILED,
        "time_limit",
        1,
    )
    assert "longer than" in study.failure_reason
