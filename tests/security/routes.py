"""Every route of healthmentor.urls, found by walking the URL resolver, and the parameter table
that turns each into a URL over the security world. A route the table does not cover is reported
by `uncovered()`, so that a new route fails the access matrix until it is added here."""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, get_resolver

from patients.models import Patient
from tests.factories import RECORD_ENTRY_EXAMPLES
from tests.security.world import World


@dataclass(frozen=True)
class Route:
    key: str  # "namespace:name", or the pattern itself for an unnamed route
    template: str  # the path pattern, "patients/<uuid:public_id>/"


def routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns, "", ""))


def _walk(patterns: list[Any], prefix: str, namespace: str) -> Iterator[Route]:
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = namespace + (f"{p.namespace}:" if p.namespace else "")
            yield from _walk(p.url_patterns, prefix + str(p.pattern), ns)
        elif isinstance(p, URLPattern):
            template = prefix + str(p.pattern)
            yield Route(key=f"{namespace}{p.name}" if p.name else template, template=template)


Kwargs = Callable[[World], dict[str, Any]]


def _patient(w: World) -> dict[str, Any]:
    return {"public_id": w.patient.public_id}


def _study(w: World) -> dict[str, Any]:
    return {"public_id": w.objects["study"].public_id}


def _recommendation(w: World) -> dict[str, Any]:
    return {"public_id": w.objects["recommendation"].public_id}


def _assessment(w: World) -> dict[str, Any]:
    return {"public_id": w.objects["assessment"].public_id}


def _ticket(w: World) -> dict[str, Any]:
    return {"public_id": w.objects["ticket"].public_id}


def _import_job(w: World) -> dict[str, Any]:
    return {"public_id": w.objects["import_job"].public_id}


def _none(w: World) -> dict[str, Any]:
    return {}


def _entry(kind: str) -> Kwargs:
    return lambda w: {
        "public_id": w.patient.public_id,
        "entry_id": w.objects["entries"][kind].public_id,
    }


def _fhir_entry(kind: str) -> Kwargs:
    return lambda w: {"public_id": w.objects["entries"][kind].public_id}


# Route -> URL kwargs over the world. Adding a route to the product without a line here (or a rule
# in `_admin_kwargs`) fails test_every_route_is_in_the_matrix.
ROUTE_KWARGS: dict[str, Kwargs] = {
    "": _none,  # the root redirect
    "accounts:login": _none,
    "accounts:login_otp": _none,
    "accounts:logout": _none,
    "accounts:register": _none,
    "accounts:profile": _none,
    "accounts:otp_enroll": _none,
    "accounts:otp_disable": _none,
    "accounts:backup_codes": _none,
    "accounts:api_token_create": _none,
    "accounts:api_token_revoke": _none,
    "accounts:invite_create": _none,
    "accounts:invite_accept": lambda w: {"token": "no-such-invitation-token"},
    "accounts:notifications": _none,
    "accounts:notification_bell": _none,
    "accounts:notifications_read": _none,
    "accounts:notification_open": lambda w: {"public_id": w.objects["notification"].public_id},
    "accounts:pending_users": _none,
    "accounts:user_approve": lambda w: {"public_id": w.objects["pending"].public_id},
    "accounts:user_reject": lambda w: {"public_id": w.objects["pending"].public_id},
    "patients:list": _none,
    "patients:create": _none,
    # The de-identified export (researchers, admins): it must hold none of patient A's identifiers.
    "patients:export": _none,
    "patients:export_csv": _none,
    "patients:export_fhir": _none,
    "patients:detail": _patient,
    "patients:edit": _patient,
    **{
        f"patients:{name}_add": _patient
        for name in (
            "observation",
            "condition",
            "medication",
            "allergy",
            "lifestyle",
            "family_history",
            "genetic_marker",
        )
    },
    "prediction:assess": lambda w: {**_patient(w), "disease": "diabetes"},
    "prediction:assessment": _assessment,
    "prediction:assessment_outcome": _assessment,
    "prediction:model_list": _none,
    "prediction:model_detail": lambda w: {"public_id": w.objects["risk_version"].public_id},
    "imaging:worklist": _none,
    "imaging:worklist_rows": _none,
    "imaging:upload": _patient,
    **{
        f"imaging:{name}": _study
        for name in (
            "study",
            "study_status",
            "study_image",
            "study_heatmap",
            "study_mask",
            "study_original",
            "study_deidentified",
            "report",
            "report_sign",
            "report_fhir",
        )
    },
    "imaging:model_list": _none,
    "imaging:model_detail": lambda w: {"public_id": w.objects["imaging_version"].public_id},
    "recommendations:awaiting": _none,
    "recommendations:rules": _none,
    "recommendations:benefit_model": _none,
    "recommendations:panel": _patient,
    "recommendations:detail": _recommendation,
    "recommendations:accept": _recommendation,
    "recommendations:decline": _recommendation,
    "dashboards:index": _none,
    "dashboards:home": _none,
    "dashboards:data_home_risk_bands": _none,
    "dashboards:data_home_studies": _none,
    "dashboards:patient": lambda w: {"patient_id": w.patient.public_id},
    "dashboards:data_patient_observation": lambda w: {
        "patient_id": w.patient.public_id,
        "code": "8480-6",
    },
    "dashboards:data_patient_risk": lambda w: {"patient_id": w.patient.public_id},
    "dashboards:data_patient_imaging": lambda w: {"patient_id": w.patient.public_id},
    "dashboards:population": _none,
    "dashboards:data_population": lambda w: {"disease": "diabetes", "by": "age"},
    "dashboards:models": _none,
    **{
        f"dashboards:{name}": lambda w: {"version_id": w.objects["risk_version"].public_id}
        for name in (
            "model_quality",
            "data_model_roc",
            "data_model_calibration",
            "data_model_confusion",
            "data_model_subgroups",
            "data_model_drift",
        )
    },
    "dashboards:imaging_ops": _none,
    "dashboards:data_imaging_throughput": _none,
    "dashboards:data_imaging_latency": _none,
    "dashboards:data_imaging_failures": _none,
    "dashboards:acceptance": _none,
    "dashboards:data_acceptance": _none,
    "help:index": _none,
    "help:search": _none,
    "help:tour": _none,
    "help:guide": lambda w: {"slug": "find-a-patient"},
    "support:tickets": _none,
    "support:ticket_new": _none,
    **{
        f"support:{name}": _ticket
        for name in ("ticket", "ticket_reply", "ticket_status", "ticket_screenshot")
    },
    # The FHIR API (interop.fhir_urls). Searches take the patient as a query parameter: without
    # one (the matrix sends none) they are 400s. Reads of patient A's objects are "-detail" (in
    # PATIENT_ROUTES); $everything, whose path has a second parameter, is not: outsiders' 404
    # from it is tests/interop/test_fhir_api.py's.
    "fhir:metadata": _none,
    "fhir:base": _none,
    "fhir:unknown": lambda w: {"rest": "Encounter/1"},
    "fhir:patient-search": _none,
    "fhir:patient-detail": _patient,
    "fhir:patient-everything": lambda w: {**_patient(w), "operation": "$everything"},
    **{
        f"fhir:{resource_type.lower()}-search": _none
        for resource_type in (
            "Observation",
            "Condition",
            "AllergyIntolerance",
            "MedicationStatement",
            "FamilyMemberHistory",
            "RiskAssessment",
            "DiagnosticReport",
        )
    },
    **{
        f"fhir:{resource_type}-detail": _fhir_entry(kind)
        for resource_type, kind in (
            ("observation", "observations"),
            ("condition", "conditions"),
            ("allergyintolerance", "allergies"),
            ("medicationstatement", "medications"),
            ("familymemberhistory", "family-history"),
        )
    },
    "fhir:riskassessment-detail": _assessment,
    # A report is served once signed; the world's is a draft: a 404 for everyone (the signed
    # case is tests/interop/test_fhir_api.py's).
    "fhir:diagnosticreport-read": lambda w: {"public_id": w.objects["study"].report.public_id},
    # Imports (interop.urls, interop.api_urls): a job is its uploader's (the clinician's) and
    # admins'; its pages are about patient A's team's data, so they are in PATIENT_ROUTES.
    "interop:imports": _none,
    "interop:import_template": _none,
    **{f"interop:{name}": _import_job for name in ("import", "import_status", "import_report")},
    "api-imports": _none,
    "api-imports-detail": _import_job,
    "api-imports-report": _import_job,
    "cds:discovery": _none,
    "cds:service": lambda w: {"service_id": "health-mentor-recommendations"},
    "cds:feedback": lambda w: {"service_id": "health-mentor-recommendations"},
    "api-auth-token": _none,
    "api-observation-codes": _none,
    "api-care-teams": _none,
    "api-patients": _none,
    "api-patient": _patient,
    "api-patient-timeline": _patient,
    **{f"api-patient-{kind}": _patient for kind in RECORD_ENTRY_EXAMPLES},
    **{f"api-patient-{kind}-detail": _entry(kind) for kind in RECORD_ENTRY_EXAMPLES},
    "api-risk-assessments": _none,
    "api-risk-assessment": _assessment,
    "api-risk-assessment-outcome": _assessment,
    "api-models": _none,
    "api-model": lambda w: {"public_id": w.objects["risk_version"].public_id},
    "api-imaging-studies": _none,
    "api-imaging-study": _study,
    "api-imaging-study-file": lambda w: {**_study(w), "which": "heatmap"},
    "api-imaging-study-deidentified": _study,
    "api-imaging-report": _study,
    "api-imaging-report-sign": _study,
    "api-imaging-report-fhir": _study,
    "api-imaging-models": _none,
    "api-recommendations": _none,
    "api-recommendation-rules": _none,
    "api-recommendation": _recommendation,
    "api-recommendation-accept": _recommendation,
    "api-recommendation-decline": _recommendation,
    "api-support-tickets": _none,
    "api-support-ticket": _ticket,
    "api-support-ticket-replies": _ticket,
    "api-schema": _none,
    "api-docs": _none,
    "health-live": _none,
    "health-ready": _none,
}

# Routes about patient A (or one of its objects): an outsider never gets a 2xx from them.
PATIENT_ROUTES = {
    key
    for key, make in ROUTE_KWARGS.items()
    if make in (_patient, _study, _recommendation, _assessment, _ticket, _import_job)
    or key.endswith("-detail")
    or key.startswith(("dashboards:patient", "dashboards:data_patient", "api-imaging-study-file"))
}

# Routes anyone may open without signing in (sign-in, registration, the API's description, health
# probes, the CDS Hooks discovery document).
PUBLIC_ROUTES = {
    "accounts:login",
    "accounts:register",
    "accounts:invite_accept",
    "api-auth-token",
    "api-schema",
    "api-docs",
    "health-live",
    "health-ready",
    "cds:discovery",
    "admin:login",
}

# Admin URLs follow Django's own patterns: "<app>_<model>_<view>" with the model's object of the
# world (or its first row), plus the site's own pages. Custom admin URLs need a line here.
_ADMIN_SITE: dict[str, dict[str, str]] = {
    "admin:index": {},
    "admin:login": {},
    "admin:logout": {},
    "admin:password_change": {},
    "admin:password_change_done": {},
    "admin:autocomplete": {},
    "admin:jsi18n": {},
}
_ADMIN_EXPLICIT = {
    "admin:app_list": "admin/patients/",
    "admin/(?P<url>.*)$": "admin/no-such-admin-page/",
}
_ADMIN_MODEL = re.compile(
    r"^admin/(?P<app>\w+)/(?P<model>\w+)/(?:(?:<path:object_id>|<int:pk>|<id>)/)?"
    r"(?P<view>add/|change/|delete/|history/|password/|config/|qrcode/)?$"
)


def _admin_object_pk(app: str, model: str, w: World) -> Any:
    cls = apps.get_model(app, model)
    mine = {
        "patients.patient": w.patient,
        "accounts.user": w.users["clinician"],
        "imaging.study": w.objects["study"],
        "prediction.riskassessment": w.objects["assessment"],
        "recommendations.recommendation": w.objects["recommendation"],
        "patients.observation": w.objects["entries"]["observations"],
        "support.ticket": w.objects["ticket"],
    }.get(cls._meta.label_lower)
    if mine is not None:
        return mine.pk
    first = cls._default_manager.order_by("pk").first()
    return first.pk if first is not None else 999999


def _admin_path(route: Route, w: World) -> str | None:
    if route.key in _ADMIN_EXPLICIT:
        return _ADMIN_EXPLICIT[route.key]
    if route.key in _ADMIN_SITE:
        return route.template
    if route.key == "admin:view_on_site":
        ct = ContentType.objects.get_for_model(Patient)
        return f"admin/r/{ct.pk}/{w.patient.pk}/"
    match = _ADMIN_MODEL.match(route.template)
    if match is None:
        return None
    pk = _admin_object_pk(match["app"], match["model"], w)
    return re.sub(r"<[^>]+>", str(pk), route.template)


def path_for(route: Route, w: World) -> str | None:
    """The URL of `route` in world `w`, or None when the parameter table does not cover it."""
    if route.template.startswith("admin/"):
        path = _admin_path(route, w)
        return None if path is None else "/" + path
    make = ROUTE_KWARGS.get(route.key)
    if make is None:
        return None
    kwargs = make(w)
    path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(kwargs[m[1]]), route.template)
    return "/" + path


def uncovered(w: World) -> list[str]:
    return [r.key for r in routes() if path_for(r, w) is None]
