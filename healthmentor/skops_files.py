"""skops files: written byte-for-byte reproducibly, read only with an explicit allow-list.

Django-free, shared by the numeric cores (prediction.ml, recommendations.ml). skops never runs code
on load the way pickle and joblib do, but it still rebuilds any type named in the file if told to
trust it. A reader trusts only skops' safe defaults and the types it names, and refuses a file
naming anything else.

skops' zip names its arrays after `id()` of the objects and stamps entries with the current time,
so two dumps of the same object differ. `skops_dumps` renumbers those ids in order of appearance
and fixes the timestamps: the same object gives the same bytes, hence the same sha256.
"""

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from healthmentor.artifacts import ArtifactIntegrityError

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


class UntrustedArtifactError(ArtifactIntegrityError):
    """A model file that names a type outside the allow-list: refused before anything is built."""


def _renumber(node: Any, ids: dict[str, str]) -> Any:
    """The schema with every object id (`__id__` and array file names) replaced by 1, 2, 3..."""

    def new_id(old: str) -> str:
        return ids.setdefault(old, str(len(ids) + 1))

    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "__id__":
                out[key] = int(new_id(str(value)))
            elif key == "file" and isinstance(value, str) and "." in value:
                stem, suffix = value.split(".", 1)
                out[key] = f"{new_id(stem)}.{suffix}"
            else:
                out[key] = _renumber(value, ids)
        return out
    if isinstance(node, list):
        return [_renumber(item, ids) for item in node]
    return node


def skops_dumps(obj: Any) -> bytes:
    """skops bytes of `obj`, identical for identical objects (ids renumbered, times fixed)."""
    import skops.io as sio  # with scikit-learn: seconds, so not at web-process start

    source = zipfile.ZipFile(io.BytesIO(sio.dumps(obj)))
    ids: dict[str, str] = {}
    schema = _renumber(json.loads(source.read("schema.json")), ids)
    entries = {"schema.json": json.dumps(schema, indent=2).encode()}
    for name in source.namelist():
        if name != "schema.json":
            stem, suffix = name.split(".", 1)
            entries[f"{ids[stem]}.{suffix}"] = source.read(name)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, entries[name])
    return buffer.getvalue()


def skops_load(path: Path, allowed: frozenset[str] = frozenset()) -> Any:
    """The object in skops file `path`; UntrustedArtifactError when it names a type beyond skops'
    defaults and `allowed`, ArtifactIntegrityError when it is unreadable."""
    import skops.io as sio

    data = Path(path).read_bytes()
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as error:  # a damaged zip or schema: say so rather than crash
        raise ArtifactIntegrityError(f"{path} is not a readable skops file ({error}).") from None
    refused = sorted(set(untrusted) - allowed)
    if refused:
        raise UntrustedArtifactError(
            f"{path} contains types outside the allow-list: {', '.join(refused)}. "
            "Refusing to load it."
        )
    return sio.loads(data, trusted=list(untrusted))
