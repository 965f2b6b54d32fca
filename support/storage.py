"""Ticket screenshots: validated by content, sealed at rest, read back for the owner and admins.

A screenshot of the portal may show a patient's page, so it is kept like an imaging original:
encrypted with imaging.filecrypt (AES-256-GCM in chunks) under a key derived from the escrowed
PHI_ENCRYPTION_KEYS, with its own HKDF label (so the screenshot key is never the originals' key),
under a random name in MEDIA_ROOT/support/. Validation is imaging's intake, by content alone:
the first bytes must be PNG or JPEG (anything else is refused whatever its name), then Pillow
opens it with only those decoders, checks the pixel count before decoding, and verifies it.
"""

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from imaging.filecrypt import (
    FileKey,
    StoredFileCorrupt,
    decrypt_chunks,
    encrypt_stream,
)
from imaging.intake import IntakeError, IntakeLimits, intake_inspect
from imaging.intake.sniff import HEAD_BYTES, sniff_kind
from imaging.storage import file_keys as sealed_file_keys
from imaging.storage import media_path_of

FOLDER = "support"
HKDF_INFO = b"support-screenshots-v1"
# A screenshot of a full-HD or 4K screen is well under these.
MAX_BYTES = int(getattr(settings, "SUPPORT_SCREENSHOT_MAX_BYTES", 5 * 1024 * 1024))
MAX_PIXELS = int(getattr(settings, "SUPPORT_SCREENSHOT_MAX_PIXELS", 40_000_000))
CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg"}

__all__ = ["ScreenshotRefused", "StoredFileCorrupt"]


class ScreenshotRefused(Exception):
    """A screenshot refused by size or content; `message` is one sentence for the person."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class StoredScreenshot:
    name: str
    content_type: str
    size: int


def _root() -> Path:
    return Path(str(settings.MEDIA_ROOT)).resolve() / FOLDER


def path_of(name: str) -> Path:
    """The absolute path of a stored name; ValueError for anything outside the support folder."""
    return media_path_of(name, folder=FOLDER)


def file_keys() -> tuple[FileKey, ...]:
    """Newest (the one that encrypts) first: rotating PHI_ENCRYPTION_KEYS rotates these."""
    return sealed_file_keys(info=HKDF_INFO)


def _limits() -> IntakeLimits:
    return IntakeLimits(max_bytes=MAX_BYTES, max_frame_pixels=MAX_PIXELS)


def screenshot_store(chunks: Iterable[bytes]) -> StoredScreenshot:
    """Receive, validate and seal a screenshot; ScreenshotRefused and nothing kept otherwise.

    The plaintext lives only in a private (0700) temporary folder for the checks, removed on the
    way out whatever happens; the sealed file is renamed into place, so no half-written file
    ever carries a final name."""
    incoming = _root() / "incoming"
    incoming.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="plain-", dir=incoming))
    try:
        plain = folder / "upload"
        size = 0
        with open(plain, "xb") as out:
            for chunk in chunks:
                size += len(chunk)
                if size > MAX_BYTES:
                    raise ScreenshotRefused(
                        "too_large",
                        f"The screenshot is larger than {MAX_BYTES // (1024 * 1024)} MB.",
                    )
                out.write(chunk)
        with open(plain, "rb") as fp:
            head = fp.read(HEAD_BYTES)
        try:
            kind = sniff_kind(head)
            if kind not in CONTENT_TYPES:
                raise ScreenshotRefused(
                    "unknown_format", "A screenshot must be a PNG or JPEG image."
                )
            intake_inspect(plain, limits=_limits())
        except IntakeError as error:
            message = error.message
            if error.code == "unknown_format":
                message = "This file is not a PNG or JPEG image: a screenshot must be one."
            raise ScreenshotRefused(error.code, message) from None
        name = f"{FOLDER}/{secrets.token_hex(1)}/{secrets.token_hex(16)}"
        target = path_of(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        sealing = target.with_name(f"{target.name}.part")
        try:
            with open(plain, "rb") as source, open(sealing, "xb") as sealed:
                encrypt_stream(source, sealed, file_keys()[0])
            os.replace(sealing, target)
        except BaseException:
            sealing.unlink(missing_ok=True)
            raise
        return StoredScreenshot(name=name, content_type=CONTENT_TYPES[kind], size=size)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def screenshot_read(name: str) -> bytes:
    """The plaintext of a stored screenshot (small: read whole, authenticated to the end before
    any byte is returned). FileNotFoundError when gone, StoredFileCorrupt when altered."""
    with path_of(name).open("rb") as source:
        return b"".join(decrypt_chunks(source, file_keys()))


def screenshot_remove(name: str) -> None:
    if name:
        try:
            path_of(name).unlink(missing_ok=True)
        except ValueError:
            return
