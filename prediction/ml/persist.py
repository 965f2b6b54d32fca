"""skops files of the risk models: reproducible bytes and an allow-list on load
(healthmentor.skops_files). Beyond skops' safe defaults we trust only the types our estimators
contain, and refuse a file naming anything else."""

from pathlib import Path
from typing import Any

from healthmentor.skops_files import UntrustedArtifactError, skops_dumps, skops_load

# Types outside skops' default trusted set that our estimators contain (trees' node arrays).
ALLOWED_TYPES: frozenset[str] = frozenset({"sklearn.tree._tree.Tree"})

__all__ = ["ALLOWED_TYPES", "UntrustedArtifactError", "model_dumps", "model_load"]


def model_dumps(obj: Any) -> bytes:
    """skops bytes of `obj`, identical for identical objects (ids renumbered, times fixed)."""
    return skops_dumps(obj)


def model_load(path: Path) -> Any:
    """The object in skops file `path`; refuses types beyond skops' defaults and ALLOWED_TYPES."""
    return skops_load(path, ALLOWED_TYPES)
