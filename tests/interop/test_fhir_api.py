"""The FHIR read API under /fhir/: the REST API's access rules and audit, FHIR's errors
(OperationOutcome), content type and paging, and a flat number of queries per request."""

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token

from accounts.models import AuditAction, AuditEvent, User
from imaging.services import report_sign
from interop.bundles import patient_everything
from interop.fhir_apis import MAX_COUNT
from interop.resources import MRN_SYSTEM
from tests import factories
from tests.security.world import CANARY, World, leaked, world_make

pytestmark = pytest.mark.django_db

FHIR_JSON = "application/fhir+json; charset=utf-8"
# Resource type -> the world's object of that type (the report once signed: `signed` fixture).
READS = {
    "Observation": lambda w: w.objects["entries"]["observations"],
    "Condition": lambda w: w.objects["entries"]["conditions"],
    "AllergyIntolerance": lambda w: w.objects["entries"]["allergies"],
    "MedicationStatement": lambda w: w.objects["entries"]["medications"],
    "FamilyMemberHistory": lambda w: w.objects["entries"]["family-history"],
    "RiskAssessment": lambda w: w.objects["assessment"],
    "DiagnosticReport": lambda w: w.objects["study"].report,
}


@pytest.fixture
def world() -> World:
    return world_make()


@pytest.fixture
def signed(world: World) -> World:
    """The world with its imaging report signed by the team's radiologist."""
    report_sign(report=world.objects["study"].report, by=world.users["radiologist"])
    world.objects["study"].report.refresh_from_db()
    return world


def token_client(user: User) -> Client:
    token, _ = Token.objects.get_or_create(user=user)
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {token.key}")


def outcome(response: Any, status: int, code: str) -> str:
    """The diagnostics of an OperationOutcome answered with `status` and issue `code`."""
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == FHIR_JSON
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    issue = body["issue"][0]
    assert (issue["severity"], issue["code"]) == ("error", code)
    return str(issue["diagnostics"])


def reads_of(patient_id: object) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(action=AuditAction.READ, object_id=str(patient_id)).order_by(
            "seq"
        )
    )


def ids(bundle: dict[str, Any]) -> list[str]:
    return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


# --- access -------------------------------------------------------------------------------------


def test_the_care_team_reads_the_patient_with_a_token_and_one_read_is_audited(world):
    patient = world.patient
    response = token_client(world.users["clinician"]).get(f"/fhir/Patient/{patient.public_id}")
    assert response.status_code == 200
    assert response["Content-Type"] == FHIR_JSON
    assert response.json()["identifier"][0]["value"] == CANARY["mrn"]
    (event,) = reads_of(patient.public_id)
    assert event.actor == world.users["clinician"]
    assert event.detail["view"] == "fhir_patient_read"
    assert not leaked(str(event.detail))


def test_a_signed_in_session_reads_too(world):
    response = world.client("nurse").get(f"/fhir/Patient/{world.patient.public_id}")
    assert response.status_code == 200


@pytest.mark.parametrize("principal", ["other_team", "researcher"])
def test_outside_the_care_team_every_read_is_a_404_and_the_denial_is_audited(signed, principal):
    client = signed.client(principal)
    patient_id = signed.patient.public_id
    paths = [f"/fhir/Patient/{patient_id}", f"/fhir/Patient/{patient_id}/$everything"]
    paths += [f"/fhir/{kind}/{obj(signed).public_id}" for kind, obj in READS.items()]
    for path in paths:
        response = client.get(path)
        outcome(response, 404, "not-found")
        assert not leaked(response.content.decode()), path
    denials = AuditEvent.objects.filter(action=AuditAction.DENIED, actor=signed.users[principal])
    assert denials.count() == len(paths)
    assert not reads_of(patient_id)


@pytest.mark.parametrize("principal", ["other_team", "researcher"])
def test_outside_the_care_team_searches_find_nothing(signed, principal):
    client = signed.client(principal)
    patient_id = signed.patient.public_id
    by_mrn = client.get("/fhir/Patient", {"identifier": f"{MRN_SYSTEM}|{CANARY['mrn']}"})
    assert by_mrn.status_code == 200 and by_mrn.json()["total"] == 0
    for kind in READS:
        response = client.get(f"/fhir/{kind}", {"patient": str(patient_id)})
        assert response.status_code == 200
        assert (response.json()["total"], ids(response.json())) == (0, [])
        assert not leaked(response.content.decode())


def test_anonymous_callers_get_a_401_outcome_with_the_scheme_to_use(world):
    anonymous = Client(raise_request_exception=False)
    for path in [
        "/fhir/metadata",
        "/fhir/Patient",
        f"/fhir/Patient/{world.patient.public_id}",
        f"/fhir/Observation?patient={world.patient.public_id}",
        "/fhir/NoSuchType/1",
    ]:
        response = anonymous.get(path)
        outcome(response, 401, "login")
        assert response["WWW-Authenticate"] == "Token"


# (A token holding NUL is a 400 before any lookup: tests/healthmentor/test_nul_credentials.py.)
@pytest.mark.parametrize("key", ["f" * 40, "x" * 5000])
def test_a_wrong_token_is_a_401(world, key):
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Token {key}")
    outcome(client.get("/fhir/metadata"), 401, "login")


def test_the_capability_statement_lists_what_is_served(world):
    response = world.client("clinician").get("/fhir/metadata")
    assert response.status_code == 200 and response["Content-Type"] == FHIR_JSON
    statement = response.json()
    assert statement["fhirVersion"] == "4.0.1"
    assert "json" in statement["format"]
    served = {r["type"]: r for r in statement["rest"][0]["resource"]}
    assert set(served) == {"Patient", *READS}
    assert {p["name"] for p in served["Patient"]["searchParam"]} == {"identifier", "_id"}
    assert {p["name"] for p in served["Observation"]["searchParam"]} == {"patient", "code"}
    assert served["Patient"]["operation"][0]["name"] == "everything"
    # No PHI, so no READ in the audit trail.
    assert not AuditEvent.objects.filter(action=AuditAction.READ).exists()


# --- reads and searches --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(READS))
def test_each_resource_is_read_by_id_and_found_by_patient(signed, kind):
    client = signed.client("clinician")
    obj = READS[kind](signed)
    patient_id = signed.patient.public_id
    read = client.get(f"/fhir/{kind}/{obj.public_id}")
    assert read.status_code == 200 and read["Content-Type"] == FHIR_JSON
    assert (read.json()["resourceType"], read.json()["id"]) == (kind, str(obj.public_id))
    search = client.get(f"/fhir/{kind}", {"patient": f"Patient/{patient_id}"})
    assert search.status_code == 200
    bundle = search.json()
    assert (bundle["type"], bundle["total"], ids(bundle)) == ("searchset", 1, [str(obj.public_id)])
    assert bundle["entry"][0]["fullUrl"] == f"http://testserver/fhir/{kind}/{obj.public_id}"
    assert [e.detail["view"] for e in reads_of(patient_id)] == [
        f"fhir_{kind.lower()}_read",
        f"fhir_{kind.lower()}_search",
    ]


def test_a_draft_imaging_report_is_not_served(world):
    client = world.client("radiologist")
    report = world.objects["study"].report
    outcome(client.get(f"/fhir/DiagnosticReport/{report.public_id}"), 404, "not-found")
    search = client.get("/fhir/DiagnosticReport", {"patient": str(world.patient.public_id)})
    assert search.json()["total"] == 0
    everything = client.get(f"/fhir/Patient/{world.patient.public_id}/$everything").json()
    assert "DiagnosticReport" not in {e["resource"]["resourceType"] for e in everything["entry"]}


def test_patient_search_by_mrn_with_or_without_the_system(world):
    client = world.client("clinician")
    patient_id = str(world.patient.public_id)
    for identifier in (f"{MRN_SYSTEM}|{CANARY['mrn']}", CANARY["mrn"], f"|{CANARY['mrn']}"):
        bundle = client.get("/fhir/Patient", {"identifier": identifier}).json()
        assert (bundle["total"], ids(bundle)) == (1, [patient_id]), identifier
    for identifier in ("urn:other:mrn|" + CANARY["mrn"], "MRN-NOBODY"):
        response = client.get("/fhir/Patient", {"identifier": identifier})
        assert response.status_code == 200 and response.json()["total"] == 0
        assert "entry" not in response.json()
    by_id = client.get("/fhir/Patient", {"_id": patient_id}).json()
    assert ids(by_id) == [patient_id]


def test_a_patient_search_is_audited_with_the_ids_it_showed(world):
    world.client("clinician").get("/fhir/Patient", {"identifier": CANARY["mrn"]})
    event = AuditEvent.objects.filter(action=AuditAction.READ).get()
    assert event.detail["view"] == "fhir_patient_search"
    assert event.detail["patients"] == [str(world.patient.public_id)]
    assert not leaked(str(event.detail))  # the MRN asked about stays out of the trail


def test_observations_narrow_to_loinc_codes(world):
    client = world.client("clinician")
    patient = world.patient
    heart = factories.record_entry_make(
        "observations", patient=patient, code="8867-4", value=72, unit="/min"
    )
    systolic = str(world.objects["entries"]["observations"].public_id)

    def found(code: str) -> list[str]:
        return ids(
            client.get("/fhir/Observation", {"patient": patient.public_id, "code": code}).json()
        )

    assert found("8867-4") == [str(heart.public_id)]
    assert found("http://loinc.org|8480-6") == [systolic]
    assert sorted(found("8480-6,8867-4")) == sorted([systolic, str(heart.public_id)])
    assert found("http://snomed.info/sct|8480-6") == []


def test_everything_holds_the_whole_record_with_full_urls(signed):
    response = signed.client("clinician").get(
        f"/fhir/Patient/{signed.patient.public_id}/$everything"
    )
    bundle = response.json()
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "searchset")
    kinds = [entry["resource"]["resourceType"] for entry in bundle["entry"]]
    assert kinds[0] == "Patient" and set(kinds) == {"Patient", *READS}
    assert bundle["total"] == len(kinds)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert entry["fullUrl"] == (
            f"http://testserver/fhir/{resource['resourceType']}/{resource['id']}"
        )
    (event,) = reads_of(signed.patient.public_id)
    assert (event.detail["view"], event.detail["count"]) == ("fhir_patient_everything", len(kinds))


def test_the_everything_bundle_is_built_outside_a_request_too(signed):
    bundle = patient_everything(patient=signed.patient)
    assert {e["fullUrl"] for e in bundle["entry"]} == {
        f"urn:uuid:{e['resource']['id']}" for e in bundle["entry"]
    }
    assert len(bundle["entry"]) == 1 + len(READS)


# --- paging and queries ---------------------------------------------------------------------------


def observations_add(patient: Any, n: int) -> None:
    for i in range(n):
        factories.record_entry_make(
            "observations",
            patient=patient,
            value=100 + i,
            effective_at=f"2024-06-{1 + i % 28:02d}T08:00:00Z",
        )


def test_a_large_search_is_paged_by_count_and_next_links(world):
    observations_add(world.patient, 11)  # 12 with the world's own
    client = world.client("clinician")
    url = f"/fhir/Observation?patient={world.patient.public_id}&_count=5"
    seen: list[str] = []
    pages = 0
    while url:
        bundle = client.get(url).json()
        assert bundle["total"] == 12
        seen += ids(bundle)
        pages += 1
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        assert parse_qs(urlsplit(links["self"]).query)["_count"] == ["5"]
        url = links.get("next", "")
    assert pages == 3 and len(seen) == 12 == len(set(seen))


def test_count_zero_answers_the_total_alone(world):
    observations_add(world.patient, 3)
    bundle = (
        world.client("clinician")
        .get("/fhir/Observation", {"patient": world.patient.public_id, "_count": 0})
        .json()
    )
    assert (bundle["total"], "entry" in bundle) == (4, False)


def queries_of(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_searches_and_everything_take_as_many_queries_for_many_rows_as_for_few(signed):
    client = signed.client("clinician")
    patient_id = signed.patient.public_id
    urls = [
        f"/fhir/Observation?patient={patient_id}&_count=3",
        f"/fhir/Observation?patient={patient_id}",
        f"/fhir/Patient/{patient_id}/$everything",
        "/fhir/Patient",
    ]
    for url in urls:  # caches filled (content types, permissions) before counting
        client.get(url)
    few = [queries_of(client, url) for url in urls]
    observations_add(signed.patient, 25)
    for kind in ("conditions", "allergies", "medications", "family-history"):
        factories.record_entry_make(kind, patient=signed.patient)
    for _ in range(5):
        factories.patient_make(team=signed.objects["team_a"])
    many = [queries_of(client, url) for url in urls]
    assert many == few


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["POST", "PUT", "PATCH", "DELETE"])
def test_the_fhir_api_is_read_only(world, verb):
    client = world.client("clinician")
    for path in [
        "/fhir/Patient",
        f"/fhir/Patient/{world.patient.public_id}",
        "/fhir/",
        "/fhir/metadata",
    ]:
        response = client.generic(verb, path, data="{}", content_type="application/fhir+json")
        outcome(response, 405, "not-supported")


@pytest.mark.parametrize(
    "headers, query",
    [
        ({"HTTP_ACCEPT": "application/fhir+xml"}, ""),
        ({"HTTP_ACCEPT": "application/xml, text/xml;q=0.5"}, ""),
        ({"HTTP_ACCEPT": "application/fhir+json;q=0, application/fhir+xml"}, ""),
        ({}, "?_format=xml"),
        ({"HTTP_ACCEPT": "application/fhir+json"}, "?_format=application/fhir+xml"),
    ],
)
def test_asking_for_xml_only_is_a_406(world, headers, query):
    response = world.client("clinician").get(f"/fhir/metadata{query}", **headers)
    outcome(response, 406, "not-supported")


@pytest.mark.parametrize("value", ["NaN", "html", "%00", "x" * 500])
def test_an_unknown_format_is_a_400(world, value):
    response = world.client("clinician").get(f"/fhir/metadata?_format={value}")
    outcome(response, 400, "invalid")


@pytest.mark.parametrize(
    "headers, query",
    [
        ({}, ""),
        ({"HTTP_ACCEPT": "application/json"}, ""),
        ({"HTTP_ACCEPT": "application/fhir+json"}, ""),
        ({"HTTP_ACCEPT": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}, ""),
        ({"HTTP_ACCEPT": "application/fhir+xml"}, "?_format=json"),
        ({}, "?_format=application/fhir%2Bjson"),
    ],
)
def test_json_is_served_to_whoever_accepts_it(world, headers, query):
    response = world.client("clinician").get(f"/fhir/metadata{query}", **headers)
    assert response.status_code == 200 and response["Content-Type"] == FHIR_JSON


@pytest.mark.parametrize(
    "query, code",
    [
        ("identifier=MRN1&bogus=1", "not-supported"),
        ("format=json", "not-supported"),
        ("name=Quagmirebloom", "not-supported"),
        ("identifier=", "invalid"),
        ("identifier=" + MRN_SYSTEM + "|", "invalid"),
        ("identifier=a|b|c", "invalid"),
        ("identifier=A&identifier=B", "invalid"),
        ("_count=-1", "invalid"),
        ("_count=1001", "invalid"),
        ("_count=ten", "invalid"),
        ("_count=" + "9" * 5000, "invalid"),
        ("_offset=99999999999999999999", "invalid"),
        ("_id=not-a-uuid", "invalid"),
        ("identifier=MRN%00NUL", "invalid"),
        ("identifier=" + "M" * 1_000_000, "invalid"),
    ],
)
def test_bad_patient_search_parameters_are_a_400_outcome(world, query, code):
    response = world.client("clinician").get(f"/fhir/Patient?{query}")
    diagnostics = outcome(response, 400, code)
    assert len(diagnostics) <= 2000


def test_more_query_fields_than_django_parses_is_a_400_outcome(world, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 100
    query = "&".join(f"identifier{i}=1" for i in range(101))
    outcome(world.client("clinician").get(f"/fhir/Patient?{query}"), 400, "too-long")


@pytest.mark.parametrize(
    "query, code",
    [
        ("", "required"),
        ("patient=", "invalid"),
        ("patient=12", "invalid"),
        ("patient=Patient/../../etc", "invalid"),
        ("patient=%00", "invalid"),
        ("subject={p}", "not-supported"),
        ("patient={p}&code=", "invalid"),
        ("patient={p}&code=%00", "invalid"),
        ("patient={p}&_count=" + str(MAX_COUNT + 1), "invalid"),
    ],
)
def test_bad_observation_search_parameters_are_a_400_outcome(world, query, code):
    query = query.format(p=world.patient.public_id)
    outcome(world.client("clinician").get(f"/fhir/Observation?{query}"), 400, code)


@pytest.mark.parametrize(
    "path",
    [
        "/fhir/Patient/not-a-uuid",
        "/fhir/Patient/12345",
        "/fhir/Observation/%00",
        "/fhir/RiskAssessment/%25%0A%C2%8F",
        "/fhir/%0A",
        "/fhir/Patient/" + "x" * 5000,
        "/fhir/Patient/{p}/_history",
        "/fhir/Patient/{p}/$export",
        "/fhir/Encounter/{p}",
        "/fhir/",
        "/fhir/metadata/",
    ],
)
def test_unknown_paths_and_ids_are_a_404_outcome(world, path):
    path = path.format(p=world.patient.public_id)
    outcome(world.client("clinician").get(path), 404, "not-found")


def test_an_unknown_uuid_is_a_404_like_another_teams(world):
    client = world.client("clinician")
    for kind in ("Patient", *READS):
        outcome(client.get(f"/fhir/{kind}/{uuid.uuid4()}"), 404, "not-found")


def test_the_everything_operation_takes_no_search_parameters(world):
    response = world.client("clinician").get(
        f"/fhir/Patient/{world.patient.public_id}/$everything?_count=5"
    )
    outcome(response, 400, "not-supported")
