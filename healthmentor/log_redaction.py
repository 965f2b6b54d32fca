"""A logging filter that keeps PHI typed into URLs out of the logs.

Django logs the path of every 4xx/5xx response (`Not Found: /patients/<what was typed>/`). Our
own URLs carry UUIDs only, but a user may type an MRN or a name into the address bar, and that
path would be written to the logs as is. This filter rewrites path arguments of log records so that
only UUIDs and the literal words of the project's routes survive; any other segment becomes
`<redacted>`. Install it on the handlers (see healthmentor/settings.py LOGGING).
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Any

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_LITERAL = re.compile(r"^[A-Za-z0-9_.\-]+$")
REDACTED = "<redacted>"


@lru_cache(maxsize=1)
def route_words() -> frozenset[str]:
    """Every literal segment of the project's URL patterns (`patients`, `api`, `v1`, ...)."""
    from django.urls import URLPattern, URLResolver, get_resolver

    words: set[str] = set()

    def walk(patterns: list[Any]) -> None:
        for pattern in patterns:
            text = str(pattern.pattern).lstrip("^").rstrip("$").replace("\\Z", "")
            for segment in text.split("/"):
                if segment and "<" not in segment and _LITERAL.match(segment):
                    words.add(segment)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            elif not isinstance(pattern, URLPattern):  # pragma: no cover
                continue

    walk(get_resolver().url_patterns)
    return frozenset(words)


def path_redact(path: str) -> str:
    """`path` with every segment that is neither a UUID nor a word of our routes redacted."""
    words = route_words()
    kept = [
        segment if not segment or segment in words or _UUID.match(segment) else REDACTED
        for segment in path.split("?", 1)[0].split("/")
    ]
    return "/".join(kept)


class RedactRequestPaths(logging.Filter):
    """Redacts URL paths among a record's arguments (django.request, django.server, ...)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                path_redact(arg) if isinstance(arg, str) and arg.startswith("/") else arg
                for arg in record.args
            )
        return True
