"""Where imaging files live: MEDIA_ROOT/imaging/, under random names, never under static.

Names stored in the database are relative to MEDIA_ROOT and made here only, so a path from a row
can always be resolved back inside the imaging folder. An upload is first streamed to a `.part`
file (hashing and counting as it goes, stopping at the size limit), checked, then renamed into
place: a half-received file never carries a final name.
"""

import hashlib
import os
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

FOLDER = "imaging"


class UploadTooLarge(Exception):
    """The upload passed the size limit while it was being received."""


def media_root() -> Path:
    return Path(str(settings.MEDIA_ROOT)).resolve()


def name_new(extension: str) -> str:
    """A fresh random name (relative to MEDIA_ROOT) for a file of this extension."""
    token = secrets.token_hex(16)
    return f"{FOLDER}/{token[:2]}/{token}{extension}"


def path_of(name: str) -> Path:
    """The absolute path of a stored name; ValueError for anything outside the imaging folder."""
    root = (media_root() / FOLDER).resolve()
    path = (media_root() / name).resolve()
    if not name or root not in path.parents:
        raise ValueError("Not an imaging file name.")
    return path


@dataclass(frozen=True)
class Received:
    path: Path
    size: int
    sha256: str


def receive(chunks: Iterable[bytes], *, max_bytes: int) -> Received:
    """Stream `chunks` into a new `.part` file, hashing; UploadTooLarge past `max_bytes` (the
    partial file is removed)."""
    incoming = media_root() / FOLDER / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    path = incoming / f"{secrets.token_hex(16)}.part"
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "xb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > max_bytes:
                    raise UploadTooLarge
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Received(path=path, size=size, sha256=digest.hexdigest())


def store(received: Path, extension: str) -> str:
    """Move a received and accepted file to its final random name; returns that name."""
    name = name_new(extension)
    target = path_of(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(received, target)
    return name


def write(data: bytes, extension: str) -> str:
    """Write bytes (a rendered PNG, an array) under a new random name, atomically."""
    name = name_new(extension)
    target = path_of(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".part")
    try:
        with open(tmp, "xb") as out:
            out.write(data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no half-written file behind
        raise
    return name


def remove(*names: str) -> None:
    """Delete stored files, ignoring blank names and files already gone."""
    for name in names:
        if name:
            try:
                path_of(name).unlink(missing_ok=True)
            except ValueError:
                continue
