"""Process set-up for training (threads, seeds, precision) and the progress display."""

import functools
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO, TypeVar

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up chatter

import keras
import tensorflow as tf

BAR_WIDTH = 24
_Function = TypeVar("_Function", bound=Callable[..., Any])


def numpy_copy_warning_silenced(function: _Function) -> _Function:
    """Run `function` without the DeprecationWarning that Keras 3.15 triggers under numpy 2 each
    time it turns a tensor into an array (saving, predicting): harmless, and hundreds per run."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore",
                message="__array__ implementation doesn't accept a copy keyword",
                category=DeprecationWarning,
            )
            return function(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def tf_configure() -> int:
    """Use every CPU this process may run on for each operation (one operation at a time: a
    small CNN's graph has little to run in parallel). Returns the thread count. TensorFlow fixes
    its pools when first used, so a second call in the same process keeps the first setting."""
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    threads = max(1, threads or 1)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:  # already initialised by an earlier training in this process
        pass
    return threads


def seed_all(seed: int) -> None:
    """Seed Python, numpy's global generator and TensorFlow (weights, shuffling, dropout)."""
    keras.utils.set_random_seed(seed)


def training_dtype() -> str:
    """ "mixed_bfloat16" where the CPU computes bfloat16 natively (AVX-512 BF16 or AMX): about
    twice the float32 speed here, with float32 weights; "float32" elsewhere, where bfloat16 would
    be emulated and slower. Exported models are always float32."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "float32"
    return "mixed_bfloat16" if ("avx512_bf16" in flags or "amx_bf16" in flags) else "float32"


class Progress:
    """Stage lines with elapsed time, and a `\\r` batch bar when the stream is a terminal.

    Disabled: silent. Enabled on a pipe or file: one line per stage and per epoch, no bars."""

    def __init__(self, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.stream: Any = stream if stream is not None else sys.stderr
        self.enabled = enabled
        isatty = getattr(self.stream, "isatty", None)
        self.bars = enabled and callable(isatty) and bool(isatty())
        self.started = time.monotonic()

    def _write(self, text: str) -> None:
        self.stream.write(text)
        if hasattr(self.stream, "flush"):
            self.stream.flush()

    def stage(self, text: str) -> None:
        if self.enabled:
            self._write(f"[{time.monotonic() - self.started:6.1f} s] {text}\n")

    def bar(self, label: str, done: int, total: int, note: str = "") -> None:
        if not self.bars:
            return
        filled = round(BAR_WIDTH * done / max(total, 1))
        line = f"\r{label} [{'#' * filled}{'-' * (BAR_WIDTH - filled)}] {done}/{total} {note}"
        self._write(line.ljust(79))

    def end_bar(self) -> None:
        if self.bars:
            self._write("\r" + " " * 79 + "\r")

    def callbacks(self, label: str) -> list[keras.callbacks.Callback]:
        """[a Keras callback drawing `label`'s batch bar with the running loss], or [] without
        bars (a batch callback makes Keras fetch the loss after every step)."""
        if not self.bars:
            return []
        progress = self

        class _Bar(keras.callbacks.Callback):
            def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
                total = int(self.params.get("steps") or 0)
                loss = (logs or {}).get("loss")
                note = f"loss {float(loss):.3f}" if loss is not None else ""
                progress.bar(label, min(batch + 1, total or batch + 1), total, note)

            def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
                progress.end_bar()

        return [_Bar()]
