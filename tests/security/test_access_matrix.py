"""The access matrix: every route of healthmentor.urls (walked from the URL resolver) x every verb
x every principal, on the objects of patient A of care team A. Outsiders (anonymous, a clinician
of care team B, a researcher, an administrator without a verified second factor) never get a
2xx from a route about patient A, never see one of its identifiers anywhere, and change nothing;
nobody ever gets a 5xx; a route the matrix does not cover fails it."""

import hashlib
import json
import re
import uuid
from collections import Counter
from typing import Any

import pytest
from django.apps import apps
from django.db import models
from django.test import Client

from tests.security.routes import (
    PATIENT_ROUTES,
    PUBLIC_ROUTES,
    ROUTE_KWARGS,
    Route,
    path_for,
    routes,
    uncovered,
)
from tests.security.world import INSIDERS, OUTSIDERS, World, leaked, world_make

pytestmark = pytest.mark.django_db

VERBS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# Where an outsider may be sent: a sign-in or second-factor page.
SIGN_IN = ("/accounts/login/", "/admin/login/", "/accounts/login/code/", "/accounts/profile/2fa/")
# Rows the matrix's own requests may add or touch whoever asks: the audit trail of refusals,
# sessions, lockout counters, and last_login (the clients sign in).
UNTRACKED = {
    "accounts.auditevent",
    "accounts.auditchainhead",
    "sessions.session",
    "axes.accessattempt",
    "axes.accesslog",
    "axes.accessfailurelog",
    "admin.logentry",
}
UUID_IN_PATH = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def world() -> World:
    return world_make()


def ask(client: Any, verb: str, path: str) -> Any:
    # An empty JSON body: the requests reach the views' validation, not only their guards.
    if verb in ("POST", "PUT", "PATCH"):
        return client.generic(verb, path, data="{}", content_type="application/json")
    return client.generic(verb, path)


def database_fingerprint(principal: Any) -> dict[str, str]:
    """A digest of every row of every model but UNTRACKED (and users' last_login), leaving out
    the principal's own account and what hangs off it (their 2FA devices, tokens): outsiders may
    manage their own account, nothing else."""
    digests = {}
    for model in apps.get_models():
        label = model._meta.label_lower
        if label in UNTRACKED:
            continue
        names = [
            f.attname
            for f in model._meta.concrete_fields
            if f.attname != "last_login" and not isinstance(f, models.BinaryField)
        ]
        rows_of = model._default_manager.order_by("pk")
        if principal is not None and label == "accounts.user":
            rows_of = rows_of.exclude(pk=principal.pk)
        elif principal is not None and "user_id" in names:
            rows_of = rows_of.exclude(user_id=principal.pk)
        rows = list(rows_of.values_list(*names))
        digests[label] = hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest()
    return digests


def run_matrix(world: World, principal: str) -> list[tuple[Route, str, str, Any, Any]]:
    """(route, verb, path, response, client) for every route and verb, as `principal`."""
    answers = []
    for route in routes():
        path = path_for(route, world)
        assert path is not None, route.key
        client = world.client(principal)
        for verb in VERBS:
            answers.append((route, verb, path, ask(client, verb, path), client))
    return answers


def same_for_an_unknown_id(client: Any, verb: str, path: str, response: Any) -> bool:
    """True when the answer does not depend on patient A's objects existing: the same request
    about random ids gets the same status and body (OPTIONS describes a view, not an object)."""
    unknown = UUID_IN_PATH.sub(lambda _: str(uuid.uuid4()), path)
    other = ask(client, verb, unknown)
    return (other.status_code, body_of(other)) == (response.status_code, body_of(response))


def body_of(response: Any) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def test_every_route_is_in_the_matrix(world):
    assert uncovered(world) == []
    keys = {r.key for r in routes()}
    assert not set(ROUTE_KWARGS) - keys, "stale lines in ROUTE_KWARGS"
    assert keys >= PUBLIC_ROUTES | PATIENT_ROUTES


def test_the_parameter_table_points_at_real_objects(world):
    """Patient A's own clinician and a verified admin reach every route about patient A: the
    matrix's 404s for outsiders are refusals, not wrong URLs."""
    for principal in ("clinician", "admin"):
        client = world.client(principal)
        for route in routes():
            if route.key in PATIENT_ROUTES:
                response = ask(client, "GET", path_for(route, world))
                assert response.status_code not in (401, 403, 404), (principal, route.key)


@pytest.mark.slow
@pytest.mark.parametrize("principal", OUTSIDERS)
def test_outsiders_get_nothing_of_patient_a_and_change_nothing(world, principal):
    before = database_fingerprint(world.users.get(principal))
    failures = []
    seen: Counter[int] = Counter()
    for route, verb, path, response, client in run_matrix(world, principal):
        status = response.status_code
        seen[status] += 1
        where = f"{verb} {route.key} -> {status}"
        if status >= 500:
            failures.append(f"{where}: server error")
        if found := leaked(body_of(response)) + leaked(str(dict(response.headers))):
            failures.append(f"{where}: leaked {found}")
        # OPTIONS describes the view, the same for any id: not an answer about patient A.
        described = verb == "OPTIONS" and same_for_an_unknown_id(client, verb, path, response)
        if route.key in PATIENT_ROUTES and 200 <= status < 300 and not described:
            failures.append(f"{where}: a 2xx about patient A")
        if principal == "anonymous" and 200 <= status < 300 and route.key not in PUBLIC_ROUTES:
            failures.append(f"{where}: a 2xx to an anonymous visitor")
        if status in (301, 302) and route.key in PATIENT_ROUTES:
            location = response["Location"]
            if not location.startswith(SIGN_IN):
                failures.append(f"{where}: redirected to {location}")
    assert failures == [], "\n".join(failures)
    after = database_fingerprint(world.users.get(principal))
    changed = sorted(label for label in before if before[label] != after.get(label))
    assert changed == [], f"{principal} changed {changed}"
    assert sum(seen.values()) == len(routes()) * len(VERBS)


@pytest.mark.slow
@pytest.mark.parametrize("principal", INSIDERS)
def test_care_team_a_never_meets_a_server_error(world, principal):
    errors = [
        f"{verb} {route.key} -> {response.status_code}"
        for route, verb, _, response, _ in run_matrix(world, principal)
        if response.status_code >= 500
    ]
    assert errors == []


@pytest.mark.parametrize("verb", ["OPTIONS", "POST", "PUT", "PATCH", "DELETE"])
def test_the_api_docs_page_answers_other_verbs_with_a_405_not_a_500(client, verb):
    # Found by the matrix: DRF's OPTIONS answer went through the docs' HTML renderer.
    response = Client(raise_request_exception=False).generic(verb, "/api/docs/")
    assert response.status_code == 405
    assert client.get("/api/docs/").status_code == 200
