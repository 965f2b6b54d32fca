"""Upload intake for imaging: validate PNG, JPEG, DICOM and zipped DICOM series by content,
read their metadata, and decode their pixels into physical units. Django-free.

    intake = intake_inspect(path)                  # in the request: cheap, raises IntakeError
    pixels = pixels_decode(path, intake.kind)      # in the worker: full decode
    png = png_encode(frame_to_uint8(pixels.frames[0], window=pixels.default_window))
"""

from imaging.intake.api import intake_inspect, pixels_decode
from imaging.intake.errors import INTAKE_ERROR_CODES, IntakeError
from imaging.intake.records import DEFAULT_LIMITS, Intake, IntakeLimits, Pixels
from imaging.intake.render import WINDOW_PRESETS, default_ct_window, frame_to_uint8, png_encode

__all__ = [
    "DEFAULT_LIMITS",
    "INTAKE_ERROR_CODES",
    "WINDOW_PRESETS",
    "Intake",
    "IntakeError",
    "IntakeLimits",
    "Pixels",
    "default_ct_window",
    "frame_to_uint8",
    "intake_inspect",
    "pixels_decode",
    "png_encode",
]
