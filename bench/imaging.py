"""Imaging analysis: the ONNX serving path against Keras, the queue's overhead, a burst of uploads
on two worker children, and a worker child's memory, measured side by side in one run.

Builds its own world under a temporary folder with the test settings (a fresh SQLite database, or
DATABASE_URL if set; the broker of CELERY_BROKER_URL, else Redis on 127.0.0.1:6379 if it answers,
else the embedded filesystem broker), registers the newest bundle under --models (default
var/models/imaging, what `make run` trains) or trains one, and starts real Celery workers.

  serving_vs_keras       median time of the serving path on one image (decode the PNG file,
                         preprocess, classify with ONNX Runtime, heatmap) / median of Keras
                         `model(x)` on the same preprocessed image (TensorFlow, in this process).
  queue_overhead_p50_ms  N sequential uploads through imaging.services.study_submit with one
  queue_overhead_p99_ms  worker child: (upload start -> DONE visible in the database) minus the
                         worker's own inference stages (decode..render) of that study.
  burst_p95_s            50 uploads landing at once (stored in one transaction, their messages
                         published at its commit), worker with 2 children: p95 of commit -> DONE;
  burst_lost             studies not DONE within the time limit;
  burst_throughput_vs_raw studies per second of the burst / studies per second of the bare
                         pipeline (imaging.pipeline.study_run) in 2 processes on the same files.
  worker_rss_mb          peak RSS (VmHWM) of the worker's children after the burst.
The last line printed is one JSON object with these keys.

    .venv/bin/python bench/imaging.py [--n 30] [--burst 50] [--models DIR]
"""

import argparse
import io
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BURST_TIMEOUT_S = 300
RAW_REPEATS = 5


def _setup(folder: Path, models: Path) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "healthmentor.test_settings"
    os.environ["HEALTHMENTOR_TEST_RUN_DIR"] = str(folder)
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{folder / 'bench.sqlite3'}")
    os.environ["MEDIA_ROOT"] = str(folder / "media")
    os.environ["IMAGING_MODEL_ROOT"] = str(models)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if not os.environ.get("CELERY_BROKER_URL"):
        from healthmentor.broker import redis_answers

        if redis_answers():
            os.environ["CELERY_BROKER_URL"] = "redis://127.0.0.1:6379/14"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _bundle_folder(models: Path) -> Path:
    """The newest complete bundle under `models`, trained here when there is none."""
    found = sorted(models.glob("*/*/manifest.json"), key=lambda p: p.stat().st_mtime)
    if not found:
        from django.core.management import call_command

        call_command("train_imaging_models", "--no-activate")
        found = sorted(models.glob("*/*/manifest.json"), key=lambda p: p.stat().st_mtime)
    return found[-1].parent


def _phantom_pngs(count: int, seed: int) -> list[bytes]:
    import numpy as np
    from PIL import Image

    from imaging.ml.phantoms import phantom_batch

    batch = phantom_batch(count, seed=seed, modalities=("DX",))
    out = []
    for image in batch.images:
        buffer = io.BytesIO()
        Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8)).save(buffer, format="PNG")
        out.append(buffer.getvalue())
    return out


def _median_ms(fn: Any, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def serving_vs_keras(folder: Path, png: Path, rounds: int) -> dict[str, float]:
    import numpy as np

    from imaging.intake import pixels_decode
    from imaging.ml.preprocess import model_input
    from imaging.ml.serving import ImagingBundle

    bundle = ImagingBundle.load(folder)

    def serving() -> None:
        pixels = pixels_decode(png, "png")
        x = model_input(pixels.frames[0], modality=pixels.modality, size=bundle.input_size)
        probs, features = bundle.classify(x[None].astype(np.float32))
        bundle.heatmap(features[0], int(probs[0].argmax()))

    pixels = pixels_decode(png, "png")
    x = model_input(pixels.frames[0], modality=pixels.modality, size=bundle.input_size)
    import keras
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    model = keras.models.load_model(folder / "classifier.keras", compile=False)
    tensor = x[None, :, :, None].astype(np.float32)
    for _ in range(10):
        serving()
        model(tensor)
    serving_ms = _median_ms(serving, rounds)
    keras_ms = _median_ms(lambda: model(tensor), rounds)
    return {"serving_ms": serving_ms, "keras_ms": keras_ms, "ratio": serving_ms / keras_ms}


def _worker(folder: Path, concurrency: int) -> subprocess.Popen[bytes]:
    from django.conf import settings

    env = dict(os.environ)
    env["CELERY_BROKER_URL"] = settings.CELERY_BROKER_URL
    nodename = f"bench-{uuid.uuid4().hex[:6]}@bench"
    log = (folder / f"{nodename}.log").open("wb")
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "celery", "-A", "healthmentor", "worker"),
            *("--queues", "default,inference", "--concurrency", str(concurrency)),
            *("--hostname", nodename, "--loglevel", "WARNING"),
            *("--without-gossip", "--without-mingle", "--without-heartbeat"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    from healthmentor.celery import app

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if app.control.ping(destination=[nodename], timeout=0.5):
            return process
    raise RuntimeError("the bench worker did not start")


def _stop(process: subprocess.Popen[bytes]) -> None:
    import signal

    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def _children(process: subprocess.Popen[bytes]) -> list[int]:
    path = Path(f"/proc/{process.pid}/task/{process.pid}/children")
    return [int(pid) for pid in path.read_text().split()] if path.exists() else []


def _peak_rss_mb(pids: list[int]) -> float:
    peaks = []
    for pid in pids:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return max(peaks) if peaks else float("nan")


INFERENCE_STAGES = ("decode", "preprocess", "classify", "heatmap", "segment", "render")


def _world() -> tuple[Any, Any]:
    """A clinician and a patient of their care team (the test factories: synthetic people)."""
    from tests import factories

    clinician: Any = factories.ClinicianFactory()
    team = factories.care_team_make(members=[clinician])
    patient = factories.patient_make(team=team, by=clinician)
    return clinician, patient


def queue_overhead(pngs: list[bytes], clinician: Any, patient: Any) -> list[float]:
    from imaging.models import Study
    from imaging.services import study_submit

    overheads = []
    for data in pngs:
        start = time.perf_counter()
        study = study_submit(by=clinician, patient=patient, chunks=[data])
        while True:
            state = Study.objects.filter(pk=study.pk).values_list("state", flat=True).get()
            if state in (Study.State.DONE, Study.State.FAILED):
                break
            time.sleep(0.002)
        total_ms = (time.perf_counter() - start) * 1000
        study.refresh_from_db()
        if study.state != Study.State.DONE:
            raise RuntimeError(f"study failed: {study.failure_reason}")
        inference = sum(float(study.timings.get(k, 0)) for k in INFERENCE_STAGES)
        overheads.append(total_ms - inference)
    return overheads


def burst(pngs: list[bytes], clinician: Any, patient: Any) -> dict[str, Any]:
    """All uploads land at once: they are stored and their rows written in one transaction, so
    their 50 messages are published together at its commit, the instant the clock starts."""
    from django.db import transaction

    from imaging.models import Study
    from imaging.services import study_submit

    with transaction.atomic():
        ids = [study_submit(by=clinician, patient=patient, chunks=[d]).pk for d in pngs]
    start = time.perf_counter()
    finished: dict[int, float] = {}
    while len(finished) < len(ids) and time.perf_counter() - start < BURST_TIMEOUT_S:
        done = Study.objects.filter(pk__in=ids, state=Study.State.DONE)
        for pk in done.values_list("pk", flat=True):
            finished.setdefault(pk, time.perf_counter())
        time.sleep(0.02)
    latencies = sorted(finished[pk] - start for pk in finished)
    wall = max(finished.values()) - start if finished else float("nan")
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))] if latencies else None
    return {
        "p95_s": p95,
        "lost": len(ids) - len(finished),
        "throughput_per_s": len(finished) / wall,
        "wall_s": wall,
    }


def _raw_run(args: tuple[str, list[str]]) -> int:
    folder, paths = args
    from imaging.ml.serving import ImagingBundle
    from imaging.pipeline import study_run

    bundle = ImagingBundle.load(Path(folder))
    for path in paths:
        study_run(Path(path), kind="png", bundle=bundle)
    return len(paths)


def raw_throughput(folder: Path, files: list[Path], processes: int) -> float:
    """Studies per second of the bare pipeline in `processes` processes (loading excluded)."""
    chunks = [[str(p) for p in files[i::processes]] for i in range(processes)]
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        pool.map(_raw_run, [(str(folder), c[:2]) for c in chunks])  # load + warm each process
        rates = []
        for _ in range(RAW_REPEATS):  # a pass takes well under a second: take the median of 5
            start = time.perf_counter()
            pool.map(_raw_run, [(str(folder), c) for c in chunks])
            rates.append(len(files) / (time.perf_counter() - start))
        return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=30, help="sequential uploads (queue overhead)")
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=50, help="rounds of serving vs Keras")
    parser.add_argument("--models", type=Path, default=ROOT / "var" / "models" / "imaging")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench-imaging-"))
    args.models.mkdir(parents=True, exist_ok=True)
    _setup(folder, args.models.resolve())

    from django.conf import settings

    from imaging.services import imaging_model_register

    bundle_folder = _bundle_folder(args.models.resolve())
    version = imaging_model_register(folder=bundle_folder, activate=True)
    broker = settings.CELERY_BROKER_URL.split(":")[0]
    print(f"bundle {version.name} {version.version}; broker {broker}")
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, {platform.machine()}")

    pngs = _phantom_pngs(max(args.n, args.burst) + 1, seed=7)
    files = []
    for index, data in enumerate(pngs):
        path = folder / f"phantom-{index}.png"
        path.write_bytes(data)
        files.append(path)

    sk = serving_vs_keras(bundle_folder, files[0], args.rounds)
    print(f"serving path {sk['serving_ms']:.2f} ms, keras model(x) {sk['keras_ms']:.2f} ms")

    clinician, patient = _world()
    worker = _worker(folder, concurrency=1)
    try:
        queue_overhead(pngs[:3], clinician, patient)  # warm: the child loads its bundle
        overheads = sorted(queue_overhead(pngs[: args.n], clinician, patient))
    finally:
        _stop(worker)
    p50 = statistics.median(overheads)
    p99 = overheads[min(len(overheads) - 1, int(0.99 * len(overheads)))]
    print(f"queue overhead over {len(overheads)} uploads: p50 {p50:.1f} ms, p99 {p99:.1f} ms")

    worker = _worker(folder, concurrency=2)
    try:
        queue_overhead(pngs[:2], clinician, patient)
        result = burst(pngs[: args.burst], clinician, patient)
        rss = _peak_rss_mb(_children(worker))
    finally:
        _stop(worker)
    raw = raw_throughput(bundle_folder, files[: args.burst], processes=2)
    print(
        f"burst of {args.burst}: p95 {result['p95_s']:.2f} s, lost {result['lost']}, "
        f"{result['throughput_per_s']:.1f}/s vs raw {raw:.1f}/s; worker child peak RSS {rss:.0f} MB"
    )
    print(
        json.dumps(
            {
                "serving_vs_keras": round(sk["ratio"], 3),
                "queue_overhead_p50_ms": round(p50, 1),
                "queue_overhead_p99_ms": round(p99, 1),
                "burst_p95_s": round(result["p95_s"], 2) if result["p95_s"] is not None else None,
                "burst_lost": result["lost"],
                "burst_throughput_vs_raw": round(result["throughput_per_s"] / raw, 3),
                "worker_rss_mb": round(rss, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
