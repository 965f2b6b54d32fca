"""The product's URLs plus /bench/bare/, a bare Django JSON view (bench/api_load.py only).

The bare view answers the same JSON as the API page it is compared with (read on first use from
the file named by BENCH_BARE_BODY), with no authentication, no database and no serializer: what
is left is Django's request/response cycle and middleware, under the same gunicorn.
"""

import json
import os
from pathlib import Path
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, URLResolver, include, path

_body: dict[str, Any] = {}


def bare(request: HttpRequest) -> JsonResponse:
    if not _body:
        source = os.environ.get("BENCH_BARE_BODY", "")
        _body.update(json.loads(Path(source).read_text()) if source else {"results": []})
    return JsonResponse(_body)


urlpatterns: list[URLPattern | URLResolver] = [
    path("bench/bare/", bare),
    path("", include("healthmentor.urls")),
]
