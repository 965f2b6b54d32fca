"""PNG and JPEG uploads, opened by Pillow with only its PNG and JPEG decoders."""

from __future__ import annotations

import struct
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from imaging.intake.errors import IntakeError
from imaging.intake.records import Intake, IntakeLimits
from imaging.intake.render import luminance

_FORMATS = {"png": "PNG", "jpeg": "JPEG"}
_EXTENSIONS = {"png": ".png", "jpeg": ".jpg"}
_GRAY_MODES = frozenset({"1", "L", "LA", "I;16", "I;16L", "I;16B", "I;16N", "I"})
_COLOUR_MODES = frozenset({"P", "PA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr"})
_SIXTEEN_BIT_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I"})
_EXIF_ORIENTATION = 0x0112
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the IEND chunk: length, type, CRC
# Pillow reports a damaged file with any of these while reading headers, chunks or scans.
_DAMAGED = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, IndexError)


def _bomb(limit: int) -> IntakeError:
    return IntakeError(
        "decompression_bomb",
        f"This image declares more than {limit:,} pixels, the limit per image, and was refused "
        "before decoding.",
    )


def _corrupt(kind: str) -> IntakeError:
    return IntakeError(
        "corrupt_image",
        f"This {_FORMATS[kind]} image is damaged or incomplete and cannot be read; please "
        "export it again.",
    )


def _pixel_limit(limits: IntakeLimits) -> int:
    # Respect Pillow's own ceiling too, should a deployment have lowered it.
    pillow = Image.MAX_IMAGE_PIXELS
    return min(limits.max_frame_pixels, pillow) if pillow else limits.max_frame_pixels


@contextmanager
def _opened(path: Path, kind: str, limits: IntakeLimits) -> Iterator[Image.Image]:
    """Pillow's lazy open (headers only) restricted to PNG and JPEG, with Pillow's
    DecompressionBombWarning raised as an error, and our pixel limit checked before any pixel
    is decoded. Decoding errors inside the block become IntakeError("corrupt_image")."""
    limit = _pixel_limit(limits)
    # catch_warnings is process-wide state; the filter only turns a warning into an error, so
    # a thread that races with it at worst sees a bomb warning raised as an error too.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path, formats=["PNG", "JPEG"]) as image:
                if image.format != _FORMATS[kind]:
                    raise _corrupt(kind)
                width, height = image.size
                if width < 1 or height < 1:
                    raise _corrupt(kind)
                if width * height > limit:
                    raise _bomb(limit)
                yield image
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _bomb(limit) from None
        except UnidentifiedImageError:
            raise _corrupt(kind) from None
        except _DAMAGED:
            raise _corrupt(kind) from None


def _gray_palette(image: Image.Image) -> bool:
    # The palette as read from the PLTE chunk: getpalette() would decode the whole image.
    palette = image.palette
    if palette is None or palette.mode != "RGB":
        return False
    entries = bytes(palette.palette)
    return entries[0::3] == entries[1::3] == entries[2::3]


def _is_colour(image: Image.Image) -> bool:
    if image.mode in _GRAY_MODES:
        return False
    if image.mode == "P":
        return not _gray_palette(image)
    return True


def _png_end_check(path: Path) -> None:
    """A PNG must end with its IEND chunk: data appended after it is how a PNG is made to be a
    zip, a script or an executable at the same time (a polyglot)."""
    with path.open("rb") as fp:
        fp.seek(-len(_PNG_END), 2)
        if fp.read() != _PNG_END:
            raise IntakeError(
                "corrupt_image",
                "This PNG image carries extra data after its end and was refused for safety.",
            )


def raster_inspect(path: Path, kind: str, limits: IntakeLimits) -> Intake:
    """Validate a PNG or JPEG without decoding it in full: headers and pixel count first, then
    every PNG chunk's CRC (Image.verify), or a 1/8-scale JPEG decode that finds truncation."""
    with _opened(path, kind, limits) as image:
        if image.mode not in _GRAY_MODES | _COLOUR_MODES:
            raise IntakeError(
                "unsupported_image",
                f"This image uses a pixel format ({image.mode}) that cannot be displayed here.",
            )
        if getattr(image, "n_frames", 1) > 1:
            raise IntakeError(
                "unsupported_image",
                "Animated images are not supported; please upload a single still image.",
            )
        width, height = image.size
        colour = _is_colour(image)
        mode = image.mode
        orientation = image.getexif().get(_EXIF_ORIENTATION, 1) if kind == "jpeg" else 1
        if kind == "png":
            image.verify()
            _png_end_check(path)
        else:
            image.draft(image.mode, (max(width // 8, 1), max(height // 8, 1)))
            image.load()
    if orientation in (5, 6, 7, 8):  # a quarter turn: decode hands back the upright image
        width, height = height, width
    bits = 16 if mode in _SIXTEEN_BIT_MODES else 1 if mode == "1" else 8
    return Intake(
        kind=kind,
        extension=_EXTENSIONS[kind],
        modality="OT",
        body_part="",
        rows=height,
        columns=width,
        frames=1,
        pixel_spacing_mm=None,
        photometric="RGB" if colour else "MONOCHROME2",
        bits_stored=bits,
        phi={},
        study_date=None,
    )


def raster_decode(
    path: Path, kind: str, limits: IntakeLimits
) -> tuple[np.ndarray, np.ndarray | None]:
    """Decode a PNG/JPEG accepted by raster_inspect: ((1, H, W) float32 frames in stored units
    (0-255, or 0-65535 for 16-bit PNG), (H, W, 3) uint8 RGB for colour images, else None)."""
    with _opened(path, kind, limits) as image:
        image.load()
        upright = ImageOps.exif_transpose(image) if kind == "jpeg" else image
        assert upright is not None
        if not _is_colour(upright):
            gray = upright.convert("L") if upright.mode in ("1", "LA", "P") else upright
            frame = np.asarray(gray).astype(np.float32)
            return frame[None, ...], None
        rgb = np.asarray(upright.convert("RGB"), dtype=np.uint8)
    return luminance(rgb)[None, ...], rgb
