"""skops files of plain data (dicts of numpy arrays, numbers and strings), byte-for-byte
reproducible (healthmentor.skops_files), and read back only when they name no type beyond skops'
trusted defaults: the benefit models are stored as arrays, not as estimator objects, so nothing
else is ever needed."""

from pathlib import Path
from typing import Any

from healthmentor.artifacts import ArtifactIntegrityError
from healthmentor.skops_files import skops_dumps, skops_load


def payload_dumps(payload: dict[str, Any]) -> bytes:
    """skops bytes of `payload`, identical for identical payloads."""
    return skops_dumps(payload)


def payload_load(path: Path) -> dict[str, Any]:
    """The dict in skops file `path`; ArtifactIntegrityError when it is unreadable, names any
    type outside skops' defaults, or is not a dict."""
    payload = skops_load(path)
    if not isinstance(payload, dict):
        raise ArtifactIntegrityError(f"{path} does not hold a benefit-model payload.")
    return payload
