"""Streaming authenticated encryption of stored imaging originals (AES-256-GCM, chunked).

An original upload carries PHI in its DICOM header, so it is kept encrypted at rest. A file is
sealed in chunks so that a 200 MB upload never sits in memory, in the segmented shape of Tink's
streaming AEAD:

    header  = MAGIC (6) || key id (8) || nonce prefix (8) || chunk size (4, big-endian)
    chunk i = AES-GCM(key, nonce = prefix || i (4, big-endian),
                      plaintext[i], aad = header || last flag (1))

Every chunk holds `chunk size` plaintext bytes except the last, which may hold fewer (or none,
for an empty file). The nonce binds each chunk to its place (a reordered chunk fails), the last
flag to the end (a file cut at a chunk boundary fails: its new last chunk was sealed as "not
last"), and the header is authenticated with every chunk. The key id names the key without
revealing it, so decryption picks the right key of a rotation at once.

No Django here: keys come in as bytes (imaging.storage derives them from the settings).
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MAGIC = b"HMENC1"
KEY_ID_BYTES = 8
PREFIX_BYTES = 8
HEADER = struct.Struct(f">{len(MAGIC)}s{KEY_ID_BYTES}s{PREFIX_BYTES}sI")
TAG_BYTES = 16
CHUNK_BYTES = 1024 * 1024
MAX_CHUNK_BYTES = 16 * 1024 * 1024  # a header asking for more is not ours
MAX_CHUNKS = 2**32  # the counter's room; 4 PiB at 1 MiB a chunk
HKDF_INFO = b"imaging-originals-v1"


class StoredFileCorrupt(Exception):
    """An encrypted file that cannot be authenticated: altered, truncated, reordered, or sealed
    under a key that is no longer configured. Its bytes are never returned as if they were data."""


@dataclass(frozen=True)
class FileKey:
    """A derived AES-256 key and its public id (the first 8 bytes of its sha256)."""

    key: bytes
    key_id: bytes


def file_key_derive(secret: bytes, *, info: bytes = HKDF_INFO) -> FileKey:
    """The file key of one escrowed secret, by HKDF-SHA256 under `info`: the same secret serves
    the database fields and the files without one key ever being used for both."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)
    return FileKey(key=key, key_id=hashlib.sha256(key).digest()[:KEY_ID_BYTES])


def is_encrypted(head: bytes) -> bool:
    """Whether a file that starts with `head` is one of ours (older files are plaintext)."""
    return head.startswith(MAGIC)


def _aad(header: bytes, last: bool) -> bytes:
    return header + (b"\x01" if last else b"\x00")


def _nonce(prefix: bytes, counter: int) -> bytes:
    if counter >= MAX_CHUNKS:
        raise ValueError("File too large for one nonce prefix.")
    return prefix + counter.to_bytes(4, "big")


def _lookahead(source: BinaryIO, size: int) -> Iterator[tuple[bytes, bool]]:
    """(chunk, is_last) over `source`; one empty chunk for an empty source."""
    current = source.read(size)
    while True:
        following = source.read(size) if len(current) == size else b""
        yield current, not following
        if not following:
            return
        current = following


def encrypt_stream(
    source: BinaryIO, target: BinaryIO, key: FileKey, *, chunk_bytes: int = CHUNK_BYTES
) -> int:
    """Seal all of `source` into `target`; returns the plaintext size."""
    prefix = os.urandom(PREFIX_BYTES)
    header = HEADER.pack(MAGIC, key.key_id, prefix, chunk_bytes)
    aead = AESGCM(key.key)
    target.write(header)
    size = 0
    for counter, (chunk, last) in enumerate(_lookahead(source, chunk_bytes)):
        target.write(aead.encrypt(_nonce(prefix, counter), chunk, _aad(header, last)))
        size += len(chunk)
    return size


def _header_read(source: BinaryIO, keys: Sequence[FileKey]) -> tuple[bytes, bytes, int, FileKey]:
    header = source.read(HEADER.size)
    if len(header) < HEADER.size or not is_encrypted(header):
        raise StoredFileCorrupt("The stored file's encryption header is damaged.")
    _, key_id, prefix, chunk_bytes = HEADER.unpack(header)
    if not 0 < chunk_bytes <= MAX_CHUNK_BYTES:
        raise StoredFileCorrupt("The stored file's encryption header is damaged.")
    key = next((k for k in keys if k.key_id == key_id), None)
    if key is None:
        raise StoredFileCorrupt(
            "The stored file was encrypted under a key that is not configured "
            "(PHI_ENCRYPTION_KEYS lacks the key it was written with)."
        )
    return header, prefix, chunk_bytes, key


def key_id_of(head: bytes) -> bytes:
    """The key id in an encrypted file's header (its first HEADER.size bytes)."""
    if len(head) < HEADER.size or not is_encrypted(head):
        raise StoredFileCorrupt("The stored file's encryption header is damaged.")
    return bytes(HEADER.unpack(head[: HEADER.size])[1])


def decrypt_chunks(source: BinaryIO, keys: Sequence[FileKey]) -> Iterator[bytes]:
    """The plaintext of an encrypted `source`, chunk by chunk, each authenticated before it is
    yielded; StoredFileCorrupt at the first chunk that fails (so a consumer that must not act on
    a partial file reads to the end before acting)."""
    header, prefix, chunk_bytes, key = _header_read(source, keys)
    aead = AESGCM(key.key)
    for counter, (sealed, last) in enumerate(_lookahead(source, chunk_bytes + TAG_BYTES)):
        try:
            yield aead.decrypt(_nonce(prefix, counter), sealed, _aad(header, last))
        except (InvalidTag, ValueError):
            raise StoredFileCorrupt(
                "The stored file failed its integrity check: it was altered, cut short or "
                "damaged on disk."
            ) from None
