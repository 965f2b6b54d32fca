"""A task's soft time limit that a library cannot swallow.

Celery delivers the soft limit as SIGUSR1 to the worker child, whose handler raises
SoftTimeLimitExceeded wherever the child happens to be. Code that catches Exception can swallow
it: pydicom, when a decoding plugin raises on a frame, logs it and decodes the frame with the
next plugin, so a DICOM whose decoding outlived the soft limit went on decoding and could end
DONE, long past its limit (the bomb drill caught it). So each task `arm()`s the child: the
handler then also records that the limit fired, and long loops (`check()`, once per frame) and
the service (`fired()`) ask.

Django-free; outside a prefork child (the web, eager tests) `arm()` changes no handler and
`fired()` stays False.
"""

import signal
import threading
from types import FrameType

from billiard.pool import soft_timeout_sighandler
from celery.exceptions import SoftTimeLimitExceeded

__all__ = ["SoftTimeLimitExceeded", "arm", "check", "fired"]

_SIGNAL = getattr(signal, "SIGUSR1", None)
_fired = False


def _handler(signum: int, frame: FrameType | None) -> None:
    global _fired
    _fired = True
    raise SoftTimeLimitExceeded()


def arm() -> None:
    """At the start of a task: forget an earlier task's limit; in a prefork child, make the soft
    limit's signal record itself before it raises."""
    global _fired
    _fired = False
    if _SIGNAL is None or threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(_SIGNAL) is soft_timeout_sighandler:
        signal.signal(_SIGNAL, _handler)


def fired() -> bool:
    """True once this task's soft limit was delivered, whoever caught the exception."""
    return _fired


def check() -> None:
    """Raise SoftTimeLimitExceeded again when the limit fired and something swallowed it."""
    if _fired:
        raise SoftTimeLimitExceeded()
