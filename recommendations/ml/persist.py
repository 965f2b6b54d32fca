"""skops files of plain data (dicts of numpy arrays, numbers and strings), byte-for-byte
reproducible, and read back only when they name no type beyond skops' trusted defaults.

The benefit models are stored as arrays, not as estimator objects, so nothing but skops' own
safe types is ever needed: a file naming any other type is refused before anything is built.
skops names the arrays in its zip after `id()` and stamps entries with the current time; the
dump renumbers those ids in order of appearance and fixes the times, so the same payload gives
the same bytes and hence the same sha256. (The same technique as prediction.ml.persist, which
this Django-free core may not import.)
"""

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from healthmentor.artifacts import ArtifactIntegrityError

_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


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


def payload_dumps(payload: dict[str, Any]) -> bytes:
    """skops bytes of `payload`, identical for identical payloads."""
    import skops.io as sio  # with scikit-learn: seconds, so not at web-process start

    source = zipfile.ZipFile(io.BytesIO(sio.dumps(payload)))
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


def payload_load(path: Path) -> dict[str, Any]:
    """The dict in skops file `path`; ArtifactIntegrityError when it is unreadable, names any
    type outside skops' defaults, or is not a dict."""
    import skops.io as sio

    data = Path(path).read_bytes()
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as error:  # a damaged zip or schema: say so rather than crash
        raise ArtifactIntegrityError(f"{path} is not a readable skops file ({error}).") from None
    if untrusted:
        raise ArtifactIntegrityError(
            f"{path} contains types outside skops' trusted defaults: {', '.join(untrusted)}. "
            "Refusing to load it."
        )
    payload = sio.loads(data, trusted=[])
    if not isinstance(payload, dict):
        raise ArtifactIntegrityError(f"{path} does not hold a benefit-model payload.")
    return payload
