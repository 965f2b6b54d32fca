"""docs/integration.md runs: every `bash` block of the guide, in order, against the application
(through django.test.Client, so without a server), the way a shell would run it.

What the guide may use, and therefore what this test interprets: `export VAR=value`,
`VAR=$(curl ... | jq -r FILTER)`, and `curl ... [| jq FILTER]`; in curl, `-sS`,
`--fail-with-body` (required: every answer must then be below 400), `-X`, `-H`, `-d` and `-F`
(with `@file` for the files this test provides). `$VAR` is expanded outside single quotes, as a
shell does. jq filters are a small subset: paths (`.a.b[0]`, `.a[]`, `.[0].a`), `[...]` around
one, and `{a, b}`. Anything else fails the test rather than being skipped, so that the guide
cannot say more than is checked. A block preceded by `<!-- guide-test: skip (...) -->` is not
run, but its URLs must still be routes of the application.

The guide's `HM` (the portal's address) is replaced by the test server's.
"""

import json
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import Resolver404, resolve

from imaging.models import Study
from patients.models import Patient
from tests import factories
from tests.imaging.conftest import png_bytes

pytestmark = pytest.mark.django_db

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "integration.md"
SERVER = "http://testserver"
SKIP = re.compile(r"<!--\s*guide-test:\s*skip\b")
FENCE = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
CAPTURE = re.compile(r"^(?P<var>[A-Z_]+)=\$\((?P<command>.*)\)$", re.DOTALL)
EXPORT = re.compile(r"^export (?P<var>[A-Z_]+)=(?P<value>\S+)$")
# The files the guide's `-F name=@file` may name: what this test gives for each.
FILES = {"chest.png": (png_bytes(), "image/png")}


@dataclass
class Block:
    code: str
    skip: bool


@dataclass
class Shell:
    """The variables and answers of one run of the guide."""

    env: dict[str, str] = field(default_factory=lambda: {"HM": SERVER})
    answers: list[tuple[str, str, Any]] = field(default_factory=list)  # (method, path, json)


def guide_blocks() -> list[Block]:
    text = GUIDE.read_text()
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip().splitlines()
        found.append(Block(match[1], skip=bool(before and SKIP.search(before[-1]))))
    return found


def commands(code: str) -> Iterator[str]:
    """The commands of a block: lines joined across `\\` continuations and open quotes."""
    pending = ""
    for line in code.replace("\\\n", " ").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending = f"{pending}\n{line}" if pending else line
        try:
            shlex.split(pending)
        except ValueError:  # a quote still open: the command goes on
            continue
        yield pending.strip()
        pending = ""
    assert not pending, f"unterminated command in the guide: {pending[:80]}"


def expand(text: str, env: dict[str, str]) -> str:
    """`$VAR` and `${VAR}` replaced outside single quotes; `\\$` left for the shell's quoting."""
    out, i, single, double = [], 0, False, False
    while i < len(text):
        char = text[i]
        if char == "\\" and not single:
            out.append(text[i : i + 2])
            i += 2
            continue
        if char == "'" and not double:
            single = not single
        elif char == '"' and not single:
            double = not double
        elif char == "$" and not single:
            match = re.match(r"\$(?:\{(\w+)\}|(\w+))", text[i:])
            if match:
                name = match[1] or match[2]
                assert name in env, f"the guide uses ${name} before setting it"
                out.append(env[name])
                i += len(match[0])
                continue
        out.append(char)
        i += 1
    return "".join(out)


def words(command: str) -> list[str]:
    lexer = shlex.shlex(command, posix=True, punctuation_chars="|")
    lexer.whitespace_split = True
    return [w.replace("\\$", "$") for w in lexer]


@dataclass
class Request:
    method: str = "GET"
    url: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None
    form: dict[str, str] = field(default_factory=dict)


def curl(args: list[str]) -> Request:
    assert args[0] == "curl", args
    assert "--fail-with-body" in args, f"every curl of the guide fails on an error: {args}"
    request = Request()
    rest = iter(args[1:])
    for arg in rest:
        if arg in ("-sS", "-s", "-S", "--fail-with-body"):
            continue
        if arg == "-X":
            request.method = next(rest)
        elif arg == "-H":
            name, _, value = next(rest).partition(":")
            request.headers[name.strip().lower()] = value.strip()
        elif arg == "-d":
            request.body = next(rest)
            request.method = "POST" if request.method == "GET" else request.method
        elif arg == "-F":
            name, _, value = next(rest).partition("=")
            request.form[name] = value
            request.method = "POST" if request.method == "GET" else request.method
        elif arg.startswith("-"):
            raise AssertionError(f"a curl option this test does not interpret: {arg}")
        else:
            assert not request.url, f"two URLs in one curl: {args}"
            request.url = arg
    return request


def path_of(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == SERVER, f"not the portal's address: {url}"
    return parts.path + (f"?{parts.query}" if parts.query else "")


def send(client: Client, request: Request) -> Any:
    extra: dict[str, Any] = {}
    if "authorization" in request.headers:
        extra["HTTP_AUTHORIZATION"] = request.headers["authorization"]
    if "accept" in request.headers:
        extra["HTTP_ACCEPT"] = request.headers["accept"]
    path = path_of(request.url)
    if request.form:
        data: dict[str, Any] = {}
        for name, value in request.form.items():
            if value.startswith("@"):
                assert value[1:] in FILES, f"the guide uploads {value[1:]}, which the test lacks"
                content, kind = FILES[value[1:]]
                data[name] = SimpleUploadedFile(value[1:], content, content_type=kind)
            else:
                data[name] = value
        return client.generic(request.method, path, **_multipart(data), **extra)
    if request.body is not None:
        kind = request.headers.get("content-type", "application/x-www-form-urlencoded")
        return client.generic(request.method, path, data=request.body, content_type=kind, **extra)
    return client.generic(request.method, path, **extra)


def _multipart(data: dict[str, Any]) -> dict[str, Any]:
    from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

    return {"data": encode_multipart(BOUNDARY, data), "content_type": MULTIPART_CONTENT}


def jq(filter_: str, value: Any) -> Any:
    """The subset of jq the guide uses (see the module docstring)."""
    filter_ = filter_.strip()
    if filter_.startswith("[") and filter_.endswith("]"):
        return list(_path(filter_[1:-1], value))
    if filter_.startswith("{") and filter_.endswith("}"):
        names = [n.strip() for n in filter_[1:-1].split(",")]
        assert all(re.fullmatch(r"\w+", n) for n in names), filter_
        missing = [n for n in names if n not in value]
        assert not missing, f"jq {filter_}: the answer has no {missing}"
        return {n: value[n] for n in names}
    found = list(_path(filter_, value))
    assert len(found) == 1, f"jq {filter_} gives {len(found)} values"
    return found[0]


def _path(filter_: str, value: Any) -> Iterator[Any]:
    # `.[0]` (jq's index of the top-level array) is `[0]` applied to the whole value.
    filter_ = filter_[1:] if filter_.startswith(".[") else filter_
    steps = re.findall(r"\.(\w+)|\[(\d*)\]", filter_)
    assert steps and re.fullmatch(r"(?:\.\w+|\[\d*\])+", filter_), f"unsupported jq: {filter_}"
    values = [value]
    for name, index in steps:
        following = []
        for current in values:
            if name:
                assert isinstance(current, dict) and name in current, f"jq {filter_}: no {name}"
                following.append(current[name])
            elif index:
                following.append(current[int(index)])
            else:
                following.extend(current)
        values = following
    yield from values


@dataclass
class Step:
    """One command: its request, the jq words it pipes the answer to, the variable it sets."""

    request: Request
    jq: list[str] | None
    var: str | None


def step_of(command: str, env: dict[str, str]) -> Step:
    capture = CAPTURE.match(command)
    args = words(expand(capture["command"] if capture else command, env))
    jq_args = None
    if "|" in args:
        pipe = args.index("|")
        args, jq_args = args[:pipe], args[pipe + 1 :]
        assert "|" not in jq_args and jq_args[0] == "jq", f"one pipe, to jq: {command[:80]}"
    assert jq_args or not capture, f"a capture needs a jq filter: {command[:80]}"
    return Step(curl(args), jq_args, capture["var"] if capture else None)


def run(shell: Shell, client: Client, command: str) -> None:
    if match := EXPORT.match(command):
        shell.env[match["var"]] = SERVER if match["var"] == "HM" else match["value"]
        return
    step = step_of(command, shell.env)
    response = send(client, step.request)
    where = f"{step.request.method} {step.request.url}"
    assert response.status_code < 400, (
        f"{where} -> {response.status_code}: {response.content[:300]}"
    )
    answer = response.json() if response.content else None
    shell.answers.append((step.request.method, path_of(step.request.url), answer))
    if step.jq is not None:
        result = jq(step.jq[-1], answer)
        if step.var is not None:
            assert step.jq[1] == "-r", f"capture with jq -r: {command[:80]}"
            assert isinstance(result, str), f"{where}: jq gave {result!r}"
            shell.env[step.var] = result


@pytest.fixture
def integrator() -> Any:
    """The guide's user: a clinician on a care team that already has a patient (the guide finds
    its team's id from it), with the email and password the guide's token request sends."""
    token_request = next(
        c for b in guide_blocks() for c in commands(b.code) if "/api/v1/auth/token/" in c
    )
    request = step_of(token_request, {"HM": SERVER}).request
    body = json.loads(request.body or "{}")
    user: Any = factories.ClinicianFactory(email=body["email"], password=body["password"])
    team = factories.care_team_make(members=[user])
    factories.patient_make(team=team, by=user)
    return user


def test_the_guide_runs_from_token_to_fhir(integrator):
    shell, client = Shell(), Client(raise_request_exception=False)
    for block in guide_blocks():
        if not block.skip:
            for command in commands(block.code):
                run(shell, client, command)
    patient = Patient.objects.get(public_id=shell.env["PATIENT"])
    assert patient.care_teams.filter(public_id=shell.env["TEAM"]).exists()
    assert patient.observations.filter(code="8480-6").count() == 1
    assert Study.objects.filter(patient=patient).count() == 1
    assert shell.env["FHIR_PATIENT"] == shell.env["PATIENT"]
    everything = next(a for _, path, a in shell.answers if path.endswith("/$everything"))
    kinds = [entry["resource"]["resourceType"] for entry in everything["entry"]]
    assert kinds == ["Patient", "Observation"]
    steps = [(method, re.sub(r"[0-9a-f-]{36}", "<id>", path)) for method, path, _ in shell.answers]
    assert [s for s in steps if s[0] == "POST"] == [
        ("POST", "/api/v1/auth/token/"),
        ("POST", "/api/v1/patients/"),
        ("POST", "/api/v1/patients/<id>/observations/"),
        ("POST", "/api/v1/imaging/studies/"),
    ]


def test_the_urls_of_blocks_not_run_are_routes():
    skipped = [block for block in guide_blocks() if block.skip]
    assert skipped, "the guide has no skipped block: drop this test"
    env = {"HM": SERVER, "TOKEN": "t", "TEAM": "00000000-0000-4000-8000-000000000000"}
    for block in skipped:
        for command in commands(block.code):
            path = urlsplit(step_of(command, env).request.url).path
            try:
                match = resolve(path)
            except Resolver404:
                raise AssertionError(f"the guide names {path}, which is no route") from None
            assert match.view_name != "fhir:unknown", path


def test_the_guide_points_at_the_api_description(client):
    text = GUIDE.read_text()
    for path in ("/api/docs/", "/api/schema/"):
        assert f"`{path}`" in text
        assert client.get(path).status_code == 200
