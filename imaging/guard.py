"""A memory ceiling for each worker child, enforced while a study is being analysed.

Celery's `worker_max_memory_per_child` only replaces a child after its task has ended, and the
time limits only bound how long a task runs: a pathological image (thousands of RLE frames that
pass intake) can take gigabytes before either acts, and the kernel's OOM killer would then pick
any process of the machine. So each child runs a watchdog thread that reads its own resident
size every `every_s`; past the limit, with a study in hand, it hands the study id to `on_exceeded`
(which fails it with a reason) and kills its own process. The pool replaces the child; the
message, redelivered (acks late, rejected on worker lost), finds the study FAILED and claims
nothing. Between studies the thread only reads /proc.

Django-free: the caller gives the callback. Linux only (it reads /proc/self/statm); elsewhere
`start` returns None and nothing is watched.
"""

import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

STATM = Path("/proc/self/statm")
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    """This process's resident set size, in bytes (0 where /proc is missing)."""
    try:
        return int(STATM.read_text().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


class MemoryGuard:
    """One per process: `watching(study_id)` marks the study in hand; the thread does the rest."""

    def __init__(
        self,
        limit_bytes: int,
        on_exceeded: Callable[[int, int], None],
        *,
        every_s: float = 0.1,
        kill: Callable[[], None] | None = None,
    ) -> None:
        self.limit_bytes = limit_bytes
        self.on_exceeded = on_exceeded
        self.every_s = every_s
        self.kill = kill or (lambda: os.kill(os.getpid(), signal.SIGKILL))
        self.study_id: int | None = None
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="memory-guard", daemon=True)

    @contextlib.contextmanager
    def watching(self, study_id: int) -> Iterator[None]:
        self.study_id = study_id
        try:
            yield
        finally:
            self.study_id = None

    def check(self) -> bool:
        """One look: True when it acted (the study was handed over and the process killed)."""
        study_id = self.study_id
        if study_id is None:
            return False
        rss = rss_bytes()
        if rss <= self.limit_bytes:
            return False
        logger.error(
            "worker child %s over its memory limit (%d MB > %d MB) on study %s: stopping it",
            os.getpid(),
            rss // 2**20,
            self.limit_bytes // 2**20,
            study_id,
        )
        try:
            self.on_exceeded(study_id, rss)
        except Exception:
            # The sweeper still recovers the study (its lease runs out); the memory must go now.
            logger.exception("could not record study %s as over the memory limit", study_id)
        self.kill()
        return True

    def _loop(self) -> None:
        while not self.stopped.wait(self.every_s):
            if self.check():
                return

    def stop(self) -> None:
        self.stopped.set()


def start(limit_bytes: int, on_exceeded: Callable[[int, int], None]) -> MemoryGuard | None:
    """Start the watchdog of this process (None when the limit is off or /proc is missing)."""
    if limit_bytes <= 0 or not STATM.exists():
        return None
    guard = MemoryGuard(limit_bytes, on_exceeded)
    guard.thread.start()
    return guard
