"""An import's files: the upload and the rejected-rows report, both sealed at rest.

Both hold PHI (the file is the patients' records; the report quotes rejected values), so they are
kept like imaging originals: imaging.filecrypt's AES-256-GCM chunks under a key derived from the
escrowed PHI_ENCRYPTION_KEYS with its own HKDF label, under random names in MEDIA_ROOT/interop/.
The upload is sealed while it is received (its size counted against the limit, its sha256 taken,
its format decided from its first bytes), so its plaintext never touches the disk; a refused file
leaves nothing behind. Reading is a stream of authenticated chunks: an import holds one chunk
(1 MiB) of the file at a time, never the file.
"""

import codecs
import csv
import hashlib
import io
import itertools
import os
import secrets
import shutil
import struct
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import ijson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from healthmentor.csv_safe import csv_rows
from imaging.filecrypt import (
    CHUNK_BYTES,
    HEADER,
    MAGIC,
    PREFIX_BYTES,
    FileKey,
    StoredFileCorrupt,
    decrypt_chunks,
)
from imaging.storage import file_keys as sealed_file_keys
from imaging.storage import media_path_of
from interop.importing.fhir import BUNDLE_TYPES
from interop.importing.records import value_excerpt
from interop.importing.tabular import TEMPLATE_COLUMNS, header_matches

FOLDER = "interop"
HKDF_INFO = b"interop-imports-v1"
# What the format is decided from: enough for a CSV header line however wide its quoting.
HEAD_BYTES = 64 * 1024
# Plaintext bytes per sealed chunk: what an import holds of its file at a time.
SEAL_CHUNK_BYTES = CHUNK_BYTES
FORMAT_FHIR = "fhir-bundle"
FORMAT_CSV = "csv"

__all__ = ["ImportRefused", "StoredFileCorrupt"]


class ImportRefused(Exception):
    """An upload refused by size or content; `code` for programs, `message` for the person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class StoredUpload:
    name: str
    format: str
    size: int
    sha256: str


def _root() -> Path:
    return Path(str(settings.MEDIA_ROOT)).resolve() / FOLDER


def path_of(name: str) -> Path:
    """The absolute path of a stored name; ValueError for anything outside the interop folder."""
    return media_path_of(name, folder=FOLDER)


def file_keys() -> tuple[FileKey, ...]:
    """Newest (the one that encrypts) first: rotating PHI_ENCRYPTION_KEYS rotates these."""
    return sealed_file_keys(info=HKDF_INFO)


def _name_new(suffix: str) -> str:
    token = secrets.token_hex(16)
    return f"{FOLDER}/{token[:2]}/{token}{suffix}"


# --- sealing -------------------------------------------------------------------------------------


class SealedWriter:
    """Writes imaging.filecrypt's format incrementally (encrypt_stream needs a whole source):
    a chunk is sealed once the next byte shows it is not the last, and `close` seals the last.
    The ciphertext goes to `<target>.part`, renamed into place by `close`; `discard` removes it."""

    def __init__(self, target: Path, key: FileKey, *, chunk_bytes: int | None = None) -> None:
        chunk_bytes = chunk_bytes or SEAL_CHUNK_BYTES
        self.target = target
        self.part = target.with_name(f"{target.name}.part")
        target.parent.mkdir(parents=True, exist_ok=True)
        self._out: IO[bytes] = open(self.part, "xb")  # noqa: SIM115 (closed by close/discard)
        self._prefix = os.urandom(PREFIX_BYTES)
        self._header = HEADER.pack(MAGIC, key.key_id, self._prefix, chunk_bytes)
        self._aead = AESGCM(key.key)
        self._chunk = chunk_bytes
        self._buffer = bytearray()
        self._counter = 0
        self.size = 0
        self._out.write(self._header)

    def _seal(self, data: bytes | memoryview, last: bool) -> None:
        nonce = self._prefix + struct.pack(">I", self._counter)
        aad = self._header + (b"\x01" if last else b"\x00")
        self._out.write(self._aead.encrypt(nonce, data, aad))
        self._counter += 1

    def write(self, data: bytes) -> None:
        self.size += len(data)
        self._buffer += data
        if len(self._buffer) <= self._chunk:
            return
        sealed = 0
        with memoryview(self._buffer) as view:  # no copy of the chunk before it is sealed
            while len(self._buffer) - sealed > self._chunk:
                self._seal(view[sealed : sealed + self._chunk], last=False)
                sealed += self._chunk
        del self._buffer[:sealed]

    def close(self) -> None:
        self._seal(bytes(self._buffer), last=True)
        self._buffer.clear()
        self._out.close()
        os.replace(self.part, self.target)

    def discard(self) -> None:
        self._out.close()
        self.part.unlink(missing_ok=True)


def _json_head_check(head: bytes, *, complete: bool) -> None:
    """Refuse at once what a JSON file's first bytes already show: it is not JSON, or it is a
    resource other than a Bundle, or a Bundle of a type not imported (when those keys come
    first, as they do in practice; wherever they are, the import checks them again)."""
    try:
        for prefix, event, value in ijson.parse(io.BytesIO(head)):
            if prefix == "resourceType" and event == "string" and value != "Bundle":
                raise ImportRefused(
                    "not_a_bundle",
                    "This JSON file is not a FHIR Bundle: its resourceType is "
                    f"{value_excerpt(value)}.",
                )
            if prefix == "type" and event == "string" and value not in BUNDLE_TYPES:
                raise ImportRefused(
                    "bundle_type",
                    f"A Bundle of type {value_excerpt(value)} is not imported: only "
                    f"{', '.join(BUNDLE_TYPES)}.",
                )
    except ijson.JSONError as error:
        # The head of a longer file ends mid-document: that alone is no error.
        if complete or "premature EOF" not in str(error):
            raise ImportRefused(
                "invalid_json", "This file starts like JSON but is not valid JSON."
            ) from None


def _sniff(head: bytes) -> str:
    """The format of a file that starts with `head`, by content alone; ImportRefused otherwise."""
    text = head.removeprefix(codecs.BOM_UTF8)
    stripped = text.lstrip(b" \t\r\n")
    if not stripped:
        raise ImportRefused("empty_file", "The file is empty.")
    if stripped[:1] == b"{":
        _json_head_check(text, complete=len(head) < HEAD_BYTES)
        return FORMAT_FHIR
    if stripped[:1] == b"[":
        raise ImportRefused(
            "not_a_bundle", "This JSON file is a list, not a FHIR Bundle (a JSON object)."
        )
    if b"\x00" in head:
        raise ImportRefused(
            "unknown_format", "This file is neither a FHIR Bundle (JSON) nor a CSV file."
        )
    try:
        decoded = codecs.getincrementaldecoder("utf-8")().decode(text, final=False)
    except UnicodeDecodeError:
        raise ImportRefused(
            "unknown_format",
            "This file is neither a FHIR Bundle (JSON) nor a CSV file in UTF-8.",
        ) from None
    first = next(csv.reader(io.StringIO(decoded)), [])
    if not header_matches(first):
        raise ImportRefused(
            "csv_header",
            "A CSV import must start with the template's header line: "
            f"{','.join(TEMPLATE_COLUMNS)} (download the template from the import page).",
        )
    return FORMAT_CSV


def upload_store(source: IO[bytes], *, max_bytes: int) -> StoredUpload:
    """Seal an upload into a new random name while counting and hashing it; the format is
    decided from its first bytes. ImportRefused (and nothing kept) when it is too large, empty, or
    neither a FHIR Bundle (JSON) nor a CSV file that starts with the template's header."""
    head = source.read(HEAD_BYTES)
    if len(head) > max_bytes:
        raise ImportRefused("too_large", _too_large(max_bytes))
    fmt = _sniff(head)
    name = _name_new(".json.enc" if fmt == FORMAT_FHIR else ".csv.enc")
    writer = SealedWriter(path_of(name), file_keys()[0])
    digest = hashlib.sha256()
    try:
        chunk = head
        while chunk:
            if writer.size + len(chunk) > max_bytes:
                raise ImportRefused("too_large", _too_large(max_bytes))
            digest.update(chunk)
            writer.write(chunk)
            chunk = source.read(SEAL_CHUNK_BYTES)
        writer.close()
    except BaseException:
        writer.discard()
        raise
    return StoredUpload(name=name, format=fmt, size=writer.size, sha256=digest.hexdigest())


def _too_large(max_bytes: int) -> str:
    return f"The file is larger than the {max_bytes // (1024 * 1024)} MB import limit."


# --- reading -------------------------------------------------------------------------------------


class PlainReader(io.RawIOBase):
    """The plaintext of a sealed file as a readable stream (for ijson and csv), one authenticated
    chunk in memory at a time; `bytes_read` counts what has been handed out."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self._file = path_of(name).open("rb")
        self._chunks: Iterator[bytes] = decrypt_chunks(self._file, file_keys())
        self._current = b""
        self._offset = 0
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        while self._offset >= len(self._current):
            nxt = next(self._chunks, None)
            if nxt is None:
                return 0
            self._current, self._offset = nxt, 0
        n = min(len(view), len(self._current) - self._offset)
        view[:n] = self._current[self._offset : self._offset + n]
        self._offset += n
        self.bytes_read += n
        return n

    def close(self) -> None:
        self._file.close()
        super().close()


def plain_chunks(name: str) -> Iterator[bytes]:
    """The plaintext of a sealed file, chunk by chunk (StoredFileCorrupt at a damaged chunk)."""
    with path_of(name).open("rb") as source:
        yield from decrypt_chunks(source, file_keys())


def plain_verify(name: str) -> int:
    """Authenticate a sealed file end to end; its plaintext size (a download checks first)."""
    return sum(len(chunk) for chunk in plain_chunks(name))


# --- the report ----------------------------------------------------------------------------------


REPORT_COLUMNS = ("row", "resource", "id", "mrn", "field", "reason", "value")


def report_store(rows: Iterable[Sequence[object]]) -> str:
    """Seal a CSV report (a header line, then `rows`), cells escaped against formula injection
    (healthmentor.csv_safe); its new name."""
    name = _name_new(".csv.enc")
    writer = SealedWriter(path_of(name), file_keys()[0])
    try:
        for line in csv_rows(itertools.chain([REPORT_COLUMNS], rows)):
            writer.write(line.encode())
        writer.close()
    except BaseException:
        writer.discard()
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


# --- scratch space -------------------------------------------------------------------------------

WORK_PREFIX = "work-"


def work_folder() -> Path:
    """A private (0700) folder for one run's staging database, under MEDIA_ROOT/interop/work/."""
    parent = _root() / "work"
    parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=parent))


def work_sweep(*, older_than_s: float) -> int:
    """Remove work folders left by killed runs (kill -9 skips `finally`); how many. Their rows
    are sealed under a key that died with the process: unreadable, but they take disk space."""
    parent = _root() / "work"
    cutoff = time.time() - older_than_s
    removed = 0
    for folder in parent.glob(f"{WORK_PREFIX}*") if parent.exists() else []:
        try:
            if folder.is_dir() and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        except FileNotFoundError:
            continue
    return removed
