"""Model artifacts on disk: a model file and the manifest.json that vouches for it.

Django-free, so that the numeric cores (prediction.ml, later imaging.ml) and the web layer share one
check. A manifest names the model file's sha256; nothing is loaded unless the file on disk still has
that digest. A missing or unreadable manifest, a missing model file or a different digest all raise
ArtifactIntegrityError, whose message names the folder and both digests.
"""

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")

_CHUNK = 1 << 20


class ArtifactIntegrityError(Exception):
    """An artifact that must not be loaded: missing, unreadable, or not the file its manifest
    names."""


def sha256_file(path: Path | str) -> str:
    """Hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_write(folder: Path | str, manifest: dict[str, Any]) -> None:
    """Write `folder/manifest.json` atomically (strict JSON: NaN and infinity are refused)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(manifest, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    # A reader never sees a half-written manifest: write beside it, then rename over it.
    handle, tmp = tempfile.mkstemp(prefix=".manifest-", suffix=".json", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, folder / "manifest.json")
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def manifest_read_verified(folder: Path | str, model_file: str = "model.skops") -> dict[str, Any]:
    """The manifest of `folder`, after checking that `model_file` still has the sha256 it names."""
    folder = Path(folder)
    path = folder / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactIntegrityError(
            f"Model artifact in {folder}: manifest.json is missing."
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ArtifactIntegrityError(
            f"Model artifact in {folder}: manifest.json cannot be read ({error})."
        ) from None
    if not isinstance(manifest, dict):
        raise ArtifactIntegrityError(
            f"Model artifact in {folder}: manifest.json is not a JSON object."
        )
    expected = manifest.get("sha256")
    if not isinstance(expected, str) or len(expected) != 64:
        raise ArtifactIntegrityError(
            f"Model artifact in {folder}: manifest.json names no sha256 for {model_file}."
        )
    model = folder / model_file
    if not model.is_file():
        raise ArtifactIntegrityError(f"Model artifact in {folder}: {model_file} is missing.")
    actual = sha256_file(model)
    if actual != expected.lower():
        raise ArtifactIntegrityError(
            f"Model artifact in {folder} failed its integrity check: {model_file} has sha256 "
            f"{actual}, but its manifest expects {expected}. Refusing to load it: retrain the "
            "model or restore the original file."
        )
    return manifest


def artifact_dir_under(root: Path | str, folder: Path | str) -> tuple[Path, str]:
    """`folder` (absolute, or relative to `root`) resolved, and its POSIX path relative to
    `root`, which is what a registry row stores; ValueError when it lies outside `root`."""
    base = Path(root).resolve()
    path = Path(folder)
    path = (path if path.is_absolute() else base / path).resolve()
    try:
        return path, path.relative_to(base).as_posix()
    except ValueError:
        raise ValueError(f"{path} is not under {base}.") from None


class LoadedOnce(Generic[T]):
    """Artifacts loaded at most once per process: the first caller of a key loads it (under a
    lock, so two threads never load the same artifact twice), later callers get that object.
    Key it by what the artifact was checked against (row id, sha256, folder), so that a new
    registration is loaded afresh."""

    def __init__(self) -> None:
        self._items: dict[Hashable, T] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        item = self._items.get(key)
        if item is not None:
            return item
        with self._lock:
            item = self._items.get(key)
            if item is None:
                item = load()
                self._items[key] = item
        return item

    def clear(self) -> None:
        """Forget every loaded artifact (tests; a process whose artifacts were replaced)."""
        with self._lock:
            self._items.clear()


def registration_check(
    *,
    what: str,
    folder: Path | str,
    manifest: dict[str, Any],
    sha256: str,
    found: tuple[str, str],
    registered: tuple[str, str],
) -> None:
    """ArtifactIntegrityError unless the loaded artifact in `folder` is the one its database
    row registered: the manifest's sha256 and the artifact's own (name, version)."""
    found_sha256 = str(manifest.get("sha256", ""))
    if found_sha256 != sha256:
        raise ArtifactIntegrityError(
            f"{what} {folder} does not match its registration: the database expects sha256 "
            f"{sha256}, the manifest says {found_sha256}."
        )
    if found != registered:
        raise ArtifactIntegrityError(
            f"{what} {folder} is {' '.join(found)}, but it is registered as {' '.join(registered)}."
        )
