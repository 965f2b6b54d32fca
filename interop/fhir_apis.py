"""The FHIR R4 read API under /fhir/ (Django REST framework), beside the REST API of /api/v1/.

The same rules as the REST API: a token (`Authorization: Token <key>`) or a signed-in session,
401 without; a resource of a patient outside the caller's care teams is a 404, never a 403 that
would confirm it exists (the selectors audit the denial); one READ audit event per response that
shows PHI. Read-only: every other method is a 405 (records come in through /api/v1/imports/).

FHIR's own conventions on top: JSON only (`application/fhir+json; charset=utf-8`; a client that
accepts only XML, or asks `_format=xml`, gets a 406), errors are OperationOutcome resources, and
searches answer searchset Bundles, paged with `_count` and `_offset` and linked to the next page.
A search parameter this server does not know is a 400 rather than silently ignored: a clinical
search that dropped a filter would answer more than was asked.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode

from django.core.exceptions import SuspiciousOperation
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.audit import client_ip
from healthmentor.api import BaseApi
from interop import bundles, resources
from interop.selectors import (
    PATIENT_RESOURCE_TYPES,
    fhir_object_get,
    fhir_object_patient,
    fhir_objects_of_patient,
    fhir_patient_attach,
    fhir_patients,
)
from patients.apis.base import audit_read, request_patient, request_user

FHIR_VERSION = "4.0.1"
# The date of the CapabilityStatement: change it when what the server supports changes.
CAPABILITY_DATE = "2026-12-05"
DEFAULT_COUNT = 100
MAX_COUNT = 1000
MAX_OFFSET = 10_000_000  # beyond a bigint's reach is a 400, not a database error
MAX_VALUE_CHARS = 1000
JSON_FORMATS = frozenset(
    {"json", "application/json", "application/fhir+json", "application/json+fhir"}
)
ACCEPTED_MEDIA = JSON_FORMATS | {"*/*", "application/*"}
# FHIR's other formats: asked for by `_format`, a 406 (known, not served); anything else a 400.
OTHER_FORMATS = frozenset(
    {"xml", "text/xml", "application/xml", "application/fhir+xml", "ttl", "text/turtle"}
)
ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    413: "too-long",
    415: "not-supported",
    429: "throttled",
}


class FhirJSONRenderer(JSONRenderer):
    media_type = "application/fhir+json"
    format = "json"
    charset = "utf-8"


class FhirNegotiation(BaseContentNegotiation):
    """Always FHIR JSON, so that content negotiation refuses nothing before authentication (an
    anonymous caller gets its 401 whatever it accepts); FhirApi.initial answers the 406."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class FhirError(exceptions.APIException):
    """An error with its OperationOutcome issue code (http://hl7.org/fhir/R4/valueset-issue-type)."""

    def __init__(self, http_status: int, issue_code: str, diagnostics: str) -> None:
        super().__init__(detail=diagnostics, code=issue_code)
        self.status_code = http_status
        self.issue_code = issue_code


def _diagnostics(data: Any) -> str:
    """The words of a DRF error body ({"detail": ...} or {field: [messages]})."""
    if isinstance(data, dict):
        if set(data) == {"detail"}:
            return str(data["detail"])
        return "; ".join(
            f"{name}: {' '.join(map(str, value)) if isinstance(value, list) else value}"
            for name, value in data.items()
        )
    if isinstance(data, list):
        return " ".join(map(str, data))
    return str(data)


def _accepts_json(request: Request, requested_format: str | None) -> bool:
    """`_format` when given, else the Accept header: any JSON flavour or a wildcard (q > 0)."""
    if requested_format is not None:
        # An unencoded "+" in a query string arrives as a space ("application/fhir json").
        requested = requested_format.split(";")[0].strip().lower().replace(" ", "+")
        if requested not in JSON_FORMATS | OTHER_FORMATS:
            raise FhirError(400, "invalid", "_format: json or application/fhir+json.")
        return requested in JSON_FORMATS
    accept = str(request.META.get("HTTP_ACCEPT", "")).strip()
    if not accept:
        return True
    for part in accept.split(","):
        media, *options = (piece.strip().lower() for piece in part.split(";"))
        quality = 1.0
        for option in options:
            name, _, value = option.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0 and (media in ACCEPTED_MEDIA or media.endswith("+json")):
            return True
    return False


def _query(request: Request, allowed: frozenset[str]) -> dict[str, str]:
    """The query parameters, each known to this endpoint, given once, of bounded length and
    free of NUL (which PostgreSQL refuses in a string); else a 400."""
    try:
        items = list(request.query_params.lists())
    except SuspiciousOperation:  # more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS
        raise FhirError(400, "too-long", "Too many query parameters.") from None
    query: dict[str, str] = {}
    for name, values in items:
        if name not in allowed:
            known = ", ".join(sorted(allowed))
            raise FhirError(
                400,
                "not-supported",
                f"Unknown search parameter {name[:40]!r}; this endpoint takes: {known}.",
            )
        if len(values) != 1:
            raise FhirError(400, "invalid", f"Give the parameter {name} once.")
        value = values[0]
        if len(value) > MAX_VALUE_CHARS or "\x00" in value:
            raise FhirError(
                400, "invalid", f"{name}: at most {MAX_VALUE_CHARS} characters, and no NUL."
            )
        query[name] = value
    return query


def _bounded_int(query: dict[str, str], name: str, *, default: int, high: int) -> int:
    text = query.get(name)
    if text is None:
        return default
    try:
        value = int(text.strip())
    except ValueError:
        value = -1
    if not 0 <= value <= high:
        raise FhirError(400, "invalid", f"{name} must be a whole number from 0 to {high}.")
    return value


def _patient_id(value: str) -> uuid.UUID:
    """A patient reference of a search: the id, or `Patient/<id>`."""
    text = value.strip().removeprefix("Patient/")
    try:
        return uuid.UUID(text)
    except ValueError:
        raise FhirError(
            400, "invalid", "patient must be a Patient id (a UUID) or Patient/<id>."
        ) from None


def _site_url(request: Request) -> str:
    return request.build_absolute_uri("/").rstrip("/")


@dataclass(frozen=True)
class SearchParam:
    name: str
    type: str  # a FHIR search parameter type: token, reference
    documentation: str


PATIENT_PARAM = SearchParam(
    "patient", "reference", "The patient: its id or Patient/<id> (required)."
)
SEARCH_PARAMS: dict[str, tuple[SearchParam, ...]] = {
    "Patient": (
        SearchParam(
            "identifier",
            "token",
            f"The MRN, exactly: `{resources.MRN_SYSTEM}|<MRN>` or the bare MRN. Another "
            "system's identifier matches no patient.",
        ),
        SearchParam("_id", "token", "The patient's id (a UUID)."),
    ),
    "Observation": (
        PATIENT_PARAM,
        SearchParam(
            "code",
            "token",
            f"LOINC codes, comma-separated: `8480-6` or `{resources.LOINC}|8480-6`.",
        ),
    ),
    **{
        name: (PATIENT_PARAM,)
        for name in PATIENT_RESOURCE_TYPES
        if name not in ("Patient", "Observation")
    },
}
PAGING = frozenset({"_count", "_offset"})


def _openapi_parameters(resource_type: str | None, *, paged: bool) -> list[OpenApiParameter]:
    found = [
        OpenApiParameter(
            "_format",
            OpenApiTypes.STR,
            enum=sorted(JSON_FORMATS),
            description="JSON only; `xml` (or an Accept header of XML only) is a 406.",
        )
    ]
    for param in SEARCH_PARAMS.get(resource_type or "", ()) if paged else ():
        found.append(
            OpenApiParameter(
                param.name,
                OpenApiTypes.STR,
                description=param.documentation,
                required=param is PATIENT_PARAM,
            )
        )
    if paged:
        found += [
            OpenApiParameter(
                "_count",
                {"type": "integer", "minimum": 0, "maximum": MAX_COUNT},
                description=f"Entries a page (default {DEFAULT_COUNT}, at most {MAX_COUNT}).",
            ),
            OpenApiParameter(
                "_offset",
                {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
                description="Matches to skip; the Bundle's `next` link carries it.",
            ),
        ]
    return found


_RESPONSES_406 = {
    406: OpenApiResponse(OpenApiTypes.OBJECT, "XML asked for: an OperationOutcome (JSON only).")
}


def _schema(
    operation_id: str,
    *,
    summary: str,
    description: str,
    resource_type: str | None = None,
    paged: bool = False,
    extra: list[OpenApiParameter] | None = None,
) -> Any:
    return extend_schema_view(
        get=extend_schema(
            operation_id=operation_id,
            tags=["fhir"],
            summary=summary,
            description=description,
            parameters=[*_openapi_parameters(resource_type, paged=paged), *(extra or [])],
            responses={200: OpenApiResponse(OpenApiTypes.OBJECT, summary), **_RESPONSES_406},
        )
    )


class FhirApi(BaseApi):
    """The FHIR views' base: FHIR JSON, OperationOutcome errors, known query parameters only."""

    renderer_classes = [FhirJSONRenderer]
    content_negotiation_class = FhirNegotiation
    filter_backends = []
    pagination_class = None
    params: ClassVar[frozenset[str]] = frozenset()
    query: dict[str, str]  # the validated query parameters (set by initial)

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # 405, then authentication (401), throttles
        self.query = _query(request, self.params | {"_format"})
        if not _accepts_json(request, self.query.get("_format")):
            raise FhirError(
                406, "not-supported", "This server speaks FHIR JSON only (application/fhir+json)."
            )

    def handle_exception(self, exc: Exception) -> Response:
        response = super().handle_exception(exc)  # 401s get their WWW-Authenticate here
        issue = getattr(exc, "issue_code", None) or ISSUE_CODES.get(
            response.status_code, "processing"
        )
        response.data = resources.operation_outcome(
            code=issue, diagnostics=_diagnostics(response.data)[:2000]
        )
        return response

    def searchset(
        self, request: Request, found: list[dict[str, Any]], *, total: int, count: int, offset: int
    ) -> Response:
        """One page of a search, linked to itself and the pages beside it."""
        base = request.build_absolute_uri(request.path)
        kept = {k: v for k, v in self.query.items() if k not in PAGING}

        def page_at(at: int) -> str:
            return f"{base}?{urlencode({**kept, '_count': count, '_offset': at})}"

        links = {"self": page_at(offset)}
        if count and offset + count < total:
            links["next"] = page_at(offset + count)
        if offset:
            links["previous"] = page_at(max(0, offset - max(count, 1)))
        return Response(
            bundles.searchset(found, total=total, base_url=_site_url(request), links=links)
        )


# --- capabilities --------------------------------------------------------------------------------


def capability_statement(*, base: str) -> dict[str, Any]:
    """What this server does, as a FHIR CapabilityStatement (kind "instance": this deployment)."""
    served = []
    for resource_type in ("Patient", *PATIENT_RESOURCE_TYPES):
        served.append(
            {
                "type": resource_type,
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "searchParam": [
                    {"name": p.name, "type": p.type, "documentation": p.documentation}
                    for p in SEARCH_PARAMS[resource_type]
                ],
            }
        )
    served[0]["operation"] = [
        {
            "name": "everything",
            "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
            "documentation": "The patient and every resource of its record served here, one "
            "searchset Bundle (signed imaging reports only).",
        }
    ]
    implementation = {"description": "Health Analysis Mentor clinical portal (read-only)"}
    if base:
        implementation["url"] = base
    return {
        "resourceType": "CapabilityStatement",
        "id": "healthmentor",
        "name": "HealthMentorFhirApi",
        "title": "Health Analysis Mentor FHIR R4 API",
        "status": "active",
        "date": CAPABILITY_DATE,
        "publisher": "Health Analysis Mentor",
        "kind": "instance",
        "software": {"name": "Health Analysis Mentor"},
        "implementation": implementation,
        "fhirVersion": FHIR_VERSION,
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Read-only. Searches answer searchset Bundles of at most "
                f"_count entries (default {DEFAULT_COUNT}, at most {MAX_COUNT}); `_offset` pages "
                "on, and each Bundle links to the next page. An unknown search parameter is a "
                "400. Records are imported through POST /api/v1/imports/.",
                "security": {
                    "cors": False,
                    "description": "Authorization: Token <key> (POST /api/v1/auth/token/) or a "
                    "signed-in portal session; 401 without. A resource of a patient outside "
                    "your care teams is a 404.",
                },
                "resource": served,
            }
        ],
    }


@_schema(
    "fhir_metadata",
    summary="FHIR CapabilityStatement",
    description="What the FHIR API serves: resource types, interactions, search parameters. "
    "No PHI, but like every route of the API it needs a token or a session.",
)
class FhirMetadataApi(FhirApi):
    def get(self, request: Request) -> Response:
        return Response(capability_statement(base=bundles.fhir_base(_site_url(request))))


# --- Patient -------------------------------------------------------------------------------------


@_schema(
    "fhir_patient_search",
    summary="FHIR Patient search",
    description="The patients you may see, as a searchset Bundle (empty, not a 404, when none "
    "match). `identifier` matches the MRN exactly.",
    resource_type="Patient",
    paged=True,
)
class FhirPatientSearchApi(FhirApi):
    params = PAGING | {"identifier", "_id"}

    def get(self, request: Request) -> Response:
        count = _bounded_int(self.query, "_count", default=DEFAULT_COUNT, high=MAX_COUNT)
        offset = _bounded_int(self.query, "_offset", default=0, high=MAX_OFFSET)
        mrn, foreign = None, False
        if "identifier" in self.query:
            mrn, foreign = _mrn(self.query["identifier"])
        public_id = _patient_id(self.query["_id"]) if "_id" in self.query else None
        patients = fhir_patients(user=request_user(request), mrn=mrn, public_id=public_id)
        if foreign:
            patients = patients.none()
        rows = list(patients[offset : offset + count]) if count else []
        total = patients.count()
        audit_read(
            request,
            patient=None,
            view="fhir_patient_search",
            count=len(rows),
            patients=[str(p.public_id) for p in rows],
        )
        found = [resources.patient_resource(p) for p in rows]
        return self.searchset(request, found, total=total, count=count, offset=offset)


def _mrn(identifier: str) -> tuple[str, bool]:
    """The MRN an identifier token names, and whether it names another system's identifier (which
    matches no patient). `system|value`, `|value` or a bare value; an empty value is a 400."""
    system, bar, value = identifier.partition("|")
    if not bar:
        system, value = "", identifier
    if "|" in value or not value.strip():
        raise FhirError(
            400,
            "invalid",
            f"identifier: give `{resources.MRN_SYSTEM}|<MRN>` or the bare MRN (one value).",
        )
    return value.strip(), bool(system) and system != resources.MRN_SYSTEM


@_schema(
    "fhir_patient_read",
    summary="FHIR Patient read",
    description="One patient, as a FHIR Patient resource.",
)
class FhirPatientReadApi(FhirApi):
    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        patient = request_patient(request, public_id)
        audit_read(request, patient=patient, view="fhir_patient_read")
        return Response(resources.patient_resource(patient))


@_schema(
    "fhir_patient_everything",
    summary="FHIR Patient $everything",
    description="The patient and every resource of its record that this API serves "
    "(Observation, Condition, AllergyIntolerance, MedicationStatement, FamilyMemberHistory, "
    "RiskAssessment, and DiagnosticReport for signed imaging reports), one searchset Bundle "
    "with a fullUrl per entry. The path's last segment is the operation: `$everything`.",
    extra=[
        OpenApiParameter(
            "operation",
            OpenApiTypes.STR,
            location=OpenApiParameter.PATH,
            enum=["$everything"],
            description="The FHIR operation (the only one served).",
        )
    ],
)
class FhirPatientEverythingApi(FhirApi):
    def get(self, request: Request, public_id: uuid.UUID, operation: str) -> Response:
        patient = request_patient(request, public_id)
        bundle = bundles.patient_everything(
            patient=patient,
            base_url=_site_url(request),
            links={"self": request.build_absolute_uri(request.path)},
        )
        audit_read(request, patient=patient, view="fhir_patient_everything", count=bundle["total"])
        return Response(bundle)


# --- the record's resources ---------------------------------------------------------------------


class FhirSearchApi(FhirApi):
    resource_type: ClassVar[str]

    def get(self, request: Request) -> Response:
        if "patient" not in self.query:
            raise FhirError(
                400,
                "required",
                f"Search {self.resource_type} by patient: ?patient=<Patient id>.",
            )
        patient_id = _patient_id(self.query["patient"])
        codes = _loinc_codes(self.query["code"]) if "code" in self.query else None
        count = _bounded_int(self.query, "_count", default=DEFAULT_COUNT, high=MAX_COUNT)
        offset = _bounded_int(self.query, "_offset", default=0, high=MAX_OFFSET)
        try:
            patient = request_patient(request, patient_id)
        except Http404:
            # A patient you may not see has nothing of yours to match (the denial is audited).
            return self.searchset(request, [], total=0, count=count, offset=offset)
        matches = fhir_objects_of_patient(
            patient=patient, resource_type=self.resource_type, codes=codes
        )
        rows = fhir_patient_attach(
            list(matches[offset : offset + count]) if count else [], patient=patient
        )
        total = matches.count()
        audit_read(
            request,
            patient=patient,
            view=f"fhir_{self.resource_type.lower()}_search",
            count=len(rows),
        )
        site = _site_url(request)
        found = [bundles.resource_of(self.resource_type, row, base_url=site) for row in rows]
        return self.searchset(request, found, total=total, count=count, offset=offset)


def _loinc_codes(value: str) -> list[str]:
    """The codes of a `code` token list: `8480-6`, `http://loinc.org|8480-6`, comma-separated;
    a code of another system matches nothing, so it is left out."""
    codes = []
    for token in value.split(","):
        system, bar, code = token.strip().partition("|")
        if not bar:
            system, code = "", token.strip()
        if not code:
            raise FhirError(400, "invalid", "code: give LOINC codes, e.g. 8480-6.")
        if not system or system == resources.LOINC:
            codes.append(code)
    return codes


class FhirReadApi(FhirApi):
    resource_type: ClassVar[str]

    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        obj = fhir_object_get(
            user=request_user(request),
            resource_type=self.resource_type,
            public_id=public_id,
            ip=client_ip(request._request),
        )
        audit_read(
            request,
            patient=fhir_object_patient(obj),
            view=f"fhir_{self.resource_type.lower()}_read",
            resource=str(public_id),
        )
        return Response(bundles.resource_of(self.resource_type, obj, base_url=_site_url(request)))


def _type_apis(resource_type: str) -> tuple[type[FhirSearchApi], type[FhirReadApi]]:
    """The search and read views of one resource type, with their OpenAPI description."""
    attrs: dict[str, Any] = {"resource_type": resource_type}
    names = {param.name for param in SEARCH_PARAMS[resource_type]}
    search = _schema(
        f"fhir_{resource_type.lower()}_search",
        summary=f"FHIR {resource_type} search",
        description=f"A patient's {resource_type} resources, as a searchset Bundle (empty for a "
        "patient you may not see)."
        + (" Signed imaging reports only." if resource_type == "DiagnosticReport" else ""),
        resource_type=resource_type,
        paged=True,
    )(
        type(
            f"Fhir{resource_type}SearchApi",
            (FhirSearchApi,),
            {**attrs, "params": PAGING | names},
        )
    )
    read = _schema(
        f"fhir_{resource_type.lower()}_read",
        summary=f"FHIR {resource_type} read",
        description=f"One {resource_type}; 404 when it is not one of your care teams' patients'"
        + (" (or not signed yet)." if resource_type == "DiagnosticReport" else "."),
    )(type(f"Fhir{resource_type}ReadApi", (FhirReadApi,), attrs))
    return search, read


TYPE_APIS = {resource_type: _type_apis(resource_type) for resource_type in PATIENT_RESOURCE_TYPES}


@extend_schema(exclude=True)
class FhirUnknownApi(FhirApi):
    """Any other path under /fhir/: a 404 OperationOutcome (the base itself: a 405 for the
    transactions that FHIR clients POST there)."""

    def get(self, request: Request, rest: str = "") -> Response:
        resource_type = rest.split("/")[0]
        if resource_type in ("Patient", *PATIENT_RESOURCE_TYPES):
            words = f"No such {resource_type} here (ids are UUIDs; no history or other operations)."
        elif rest:
            served = ", ".join(("Patient", *PATIENT_RESOURCE_TYPES))
            words = f"Unknown resource type {resource_type[:40]!r}; this server serves {served}."
        else:
            words = "The FHIR API's base: see metadata for what it serves."
        raise FhirError(status.HTTP_404_NOT_FOUND, "not-found", words)
