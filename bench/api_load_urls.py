"""The product's URLs plus two bench-only views (bench/api_load.py only; never in the product's
URLs), under the same gunicorn and middleware as the API they are compared with.

/bench/bare/?team=<care team public id>&page_size=25
    A plain Django function view doing the API list page's data work without the API layer: the
    same page (newest first, ties by id) of the same patients (those of one care team, by a plain
    join instead of the permission filter), the same fields, PHI decrypted by the same model
    fields, the creator's and care teams' public ids fetched the same way (a join and one
    prefetch), the count of the patients, and `JsonResponse`. No token authentication, no
    permission filter, no DRF (request, serializer, renderer, throttling), no audit event.

/bench/static/
    The API page's JSON read once from the file named by BENCH_BARE_BODY and answered again:
    no database, no decryption; what is left is Django's request/response cycle and middleware.
"""

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, URLResolver, include, path

from patients.models import Patient

_body: dict[str, Any] = {}


def _iso(value: dt.datetime) -> str:
    # As DRF writes a datetime (ISO 8601, "Z" for UTC), so that both bodies are the same.
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def bare(request: HttpRequest) -> JsonResponse:
    size = int(request.GET.get("page_size", 25))
    patients = Patient.objects.filter(care_teams__public_id=request.GET["team"]).order_by(
        "-created_at", "-pk"
    )
    rows = patients.select_related("created_by").prefetch_related("care_teams")[:size]
    results = [
        {
            "public_id": str(p.public_id),
            "mrn": p.mrn,
            "given_name": p.given_name,
            "family_name": p.family_name,
            "date_of_birth": p.date_of_birth.isoformat(),
            "sex": p.sex,
            "phone": p.phone,
            "email": p.email,
            "address": p.address,
            "care_teams": [str(team.public_id) for team in p.care_teams.all()],
            "is_synthetic": p.is_synthetic,
            "created_by": str(p.created_by.public_id) if p.created_by else None,
            "created_at": _iso(p.created_at),
            "updated_at": _iso(p.updated_at),
        }
        for p in rows
    ]
    return JsonResponse({"count": patients.count(), "results": results})


def static(request: HttpRequest) -> JsonResponse:
    if not _body:
        source = os.environ.get("BENCH_BARE_BODY", "")
        _body.update(json.loads(Path(source).read_text()) if source else {"results": []})
    return JsonResponse(_body)


urlpatterns: list[URLPattern | URLResolver] = [
    path("bench/bare/", bare),
    path("bench/static/", static),
    path("", include("healthmentor.urls")),
]
