"""Where imaging files live: MEDIA_ROOT/imaging/, under random names, never under static.

Names stored in the database are relative to MEDIA_ROOT and made here only, so a path from a row
can always be resolved back inside the imaging folder. An upload is first streamed to a `.part`
file (hashing and counting as it goes, stopping at the size limit), checked, then sealed into
place: a half-received file never carries a final name.

Originals are kept encrypted (imaging.filecrypt, AES-256-GCM in chunks, under a key derived from
the escrowed PHI_ENCRYPTION_KEYS): their DICOM headers name the patient. They are read only
through `original_chunks`, `original_read_bytes` and `original_plaintext`. A file without the
encryption header is legacy plaintext (stored before encryption, or a derived image written by
`write`) and is read as it is; `manage.py imaging_encrypt_originals` seals the legacy originals.
"""

import base64
import hashlib
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.conf import settings

from imaging.filecrypt import (
    CHUNK_BYTES,
    HEADER,
    HKDF_INFO,
    FileKey,
    StoredFileCorrupt,
    decrypt_chunks,
    encrypt_stream,
    file_key_derive,
    is_encrypted,
    key_id_of,
)

FOLDER = "imaging"

__all__ = ["StoredFileCorrupt", "UploadTooLarge"]


class UploadTooLarge(Exception):
    """The upload passed the size limit while it was being received."""


def media_root() -> Path:
    return Path(str(settings.MEDIA_ROOT)).resolve()


def name_new(extension: str) -> str:
    """A fresh random name (relative to MEDIA_ROOT) for a file of this extension."""
    token = secrets.token_hex(16)
    return f"{FOLDER}/{token[:2]}/{token}{extension}"


def media_path_of(name: str, *, folder: str) -> Path:
    """The absolute path of a name stored under MEDIA_ROOT/`folder` (imaging's, and the imports'
    and support's sealed files); ValueError for anything outside that folder."""
    root = (media_root() / folder).resolve()
    path = (media_root() / name).resolve()
    if not name or root not in path.parents:
        raise ValueError(f"Not a file name of {folder}/.")
    return path


def path_of(name: str) -> Path:
    """The absolute path of a stored name; ValueError for anything outside the imaging folder."""
    return media_path_of(name, folder=FOLDER)


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
    """Encrypt a received and accepted file into its final random name; returns that name.

    The ciphertext goes to a `.part` beside the target and is renamed into place, so a failure (a
    full disk) leaves no partial file and touches no other; the caller removes `received` then.
    On success the plaintext `received` is removed here."""
    name = name_new(extension)
    target = path_of(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    _seal(received, target)
    received.unlink(missing_ok=True)
    return name


def _seal(source: Path, target: Path) -> None:
    """Encrypt `source` into `target` atomically (`target` may be `source` itself)."""
    tmp = target.with_name(f"{target.name}.{secrets.token_hex(4)}.part")
    try:
        with open(source, "rb") as plain, open(tmp, "xb") as out:
            encrypt_stream(plain, out, file_keys()[0])
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# --- keys ----------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _file_keys(secrets_: tuple[str, ...], info: bytes) -> tuple[FileKey, ...]:
    return tuple(file_key_derive(base64.urlsafe_b64decode(s.encode()), info=info) for s in secrets_)


def file_keys(*, info: bytes = HKDF_INFO) -> tuple[FileKey, ...]:
    """The sealed files' keys, newest (the one that encrypts) first, one per PHI_ENCRYPTION_KEYS
    entry: rotating that setting rotates these, and an older key still decrypts. `info` keeps the
    keys of each kind of file apart (the originals' by default; imports and screenshots have
    their own)."""
    keys = tuple(settings.PHI_ENCRYPTION_KEYS)
    if not keys:
        raise ValueError("PHI_ENCRYPTION_KEYS is empty.")
    return _file_keys(keys, info)


# --- reading originals ---------------------------------------------------------------------------


def original_is_encrypted(name: str) -> bool:
    with path_of(name).open("rb") as source:
        return is_encrypted(source.read(HEADER.size))


def original_chunks(name: str) -> Iterator[bytes]:
    """The plaintext of a stored original, chunk by chunk (legacy plaintext as it is).
    FileNotFoundError when it is gone, StoredFileCorrupt when it fails authentication (possibly
    after earlier chunks: see `original_verify`)."""
    with path_of(name).open("rb") as source:
        if not is_encrypted(source.read(HEADER.size)):
            source.seek(0)
            while chunk := source.read(CHUNK_BYTES):
                yield chunk
            return
        source.seek(0)
        yield from decrypt_chunks(source, file_keys())


def original_verify(name: str) -> int:
    """Authenticate a stored original end to end without keeping it; returns its plaintext size.
    A download checks first, so that a damaged file is refused before any byte is sent."""
    return sum(len(chunk) for chunk in original_chunks(name))


def original_read_bytes(name: str) -> bytes:
    """The whole plaintext of a stored original (for files that are read whole anyway)."""
    return b"".join(original_chunks(name))


@contextmanager
def original_plaintext(name: str) -> Iterator[Path]:
    """A plaintext path of a stored original, for decoders that need a path: legacy plaintext is
    its own path; an encrypted one is decrypted into a private folder (0700) under incoming/,
    removed on exit, exceptions included. Raises as `original_chunks` does, before yielding."""
    path = path_of(name)
    if not original_is_encrypted(name):
        yield path
        return
    incoming = media_root() / FOLDER / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    _plaintext_sweep(incoming)
    folder = Path(tempfile.mkdtemp(prefix=PLAIN_PREFIX, dir=incoming))  # mode 0700
    try:
        plain = folder / f"original{path.suffix}"
        with open(plain, "xb") as out:
            for chunk in original_chunks(name):
                out.write(chunk)
        yield plain
    finally:
        shutil.rmtree(folder, ignore_errors=True)


PLAIN_PREFIX = "plain-"


def _plaintext_sweep(incoming: Path) -> None:
    """Remove plaintext folders left by a process killed mid-read (kill -9 skips `finally`): any
    older than twice the task time limit cannot belong to a live analysis."""
    cutoff = time.time() - 2 * max(int(settings.IMAGING_TASK_TIME_LIMIT_S), 60)
    for folder in incoming.glob(f"{PLAIN_PREFIX}*"):
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
        except FileNotFoundError:
            continue


def original_encrypt_in_place(name: str, *, rekey: bool = False) -> str:
    """Seal a legacy plaintext original where it lies (atomically); with `rekey`, re-seal one
    encrypted under an older key under the newest. Returns "encrypted", "rekeyed" or "kept"."""
    path = path_of(name)
    with path.open("rb") as source:
        head = source.read(HEADER.size)
    if not is_encrypted(head):
        _seal(path, path)
        return "encrypted"
    if not rekey or key_id_of(head) == file_keys()[0].key_id:
        return "kept"
    with original_plaintext(name) as plain:
        _seal(plain, path)
    return "rekeyed"


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
