"""CDS Hooks 2.0 endpoints: discovery, the patient-view service and its feedback.

Server-to-server JSON (CSRF-exempt: there is no browser session; every call but discovery is
authenticated by the EHR's signed JWT, recommendations.cds.auth). We never call the EHR's FHIR
server: the service works from the prefetch alone, and answers 412 when a prefetch key it needs
is missing (CDS Hooks 2.0, "Prefetch Template"). Logs and the audit trail name the client, the
service and counts, never the patient.
"""

import json
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import RequestDataTooBig, ValidationError
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from accounts.audit import audit_record, client_ip
from accounts.models import AuditAction
from recommendations.cds.auth import CdsAuthError, cds_client_authenticate
from recommendations.cds.cards import OVERRIDE_REASON_SYSTEM, SERVICE_ID, finding_card
from recommendations.cds.fhir_facts import fhir_facts
from recommendations.models import CdsClient, DeclineReason
from recommendations.services import cds_cards_issue, cds_feedback_record, findings_for_facts

logger = logging.getLogger(__name__)

BODY_MAX_BYTES = 2 * 1024 * 1024
FEEDBACK_MAX_ITEMS = 100
HOOK = "patient-view"
PREFETCH: dict[str, str] = {
    "patient": "Patient/{{context.patientId}}",
    "conditions": "Condition?patient={{context.patientId}}&clinical-status=active",
    "observations": "Observation?patient={{context.patientId}}&_sort=-date&_count=200",
    "medications": "MedicationStatement?patient={{context.patientId}}&status=active",
    "allergies": "AllergyIntolerance?patient={{context.patientId}}",
}
SERVICE: dict[str, Any] = {
    "hook": HOOK,
    "id": SERVICE_ID,
    "title": "Health Analysis Mentor: guideline-based treatment recommendations",
    "description": (
        "Cited guideline recommendations for the patient in view: glycaemic control and "
        "diabetes drugs, blood pressure, statins by 10-year cardiovascular risk, smoking "
        "cessation, anticoagulation in atrial fibrillation, weight and activity, breast findings. "
        "Each card gives the patient's values behind it with their dates, contraindicated "
        "options and why, the strength of evidence and the guideline section."
    ),
    "prefetch": PREFETCH,
    "usageRequirements": (
        "Calls must carry a JWT signed with RS384 or ES384 by a client registered with us (iss "
        "and public key), aud set to this service's URL, a lifetime of at most 5 minutes and a "
        "unique jti. All five prefetch keys are required (null when the EHR has no data): the "
        "service never queries the FHIR server and answers 412 when a key is missing. "
        "Observations are read as LOINC with UCUM units; conditions as ICD-10 or SNOMED CT; "
        "medications and allergies as ATC, RxNorm ingredients or by name."
    ),
}


class _UnknownCard(Exception):
    pass


def _error(status: int, message: str, **extra: Any) -> JsonResponse:
    response = JsonResponse({"error": message, **extra}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _unauthorized(reason: str) -> JsonResponse:
    response = _error(401, reason)
    quoted = reason.replace("\\", "").replace('"', "'")
    response["WWW-Authenticate"] = (
        f'Bearer realm="cds-services", error="invalid_token", error_description="{quoted}"'
    )
    return response


def _authenticate(request: HttpRequest, *paths: str) -> CdsClient:
    return cds_client_authenticate(
        authorization=request.headers.get("Authorization", ""),
        audiences=[request.build_absolute_uri(path) for path in paths],
    )


def _json_body(request: HttpRequest) -> tuple[Any, JsonResponse | None]:
    """The parsed JSON body, or the error answer (413 too large, 400 not JSON)."""
    try:
        declared = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return None, _error(400, "Bad Content-Length.")
    too_big = _error(413, f"The request body is over {BODY_MAX_BYTES // (1024 * 1024)} MB.")
    if declared > BODY_MAX_BYTES:
        return None, too_big
    try:
        raw = request.body
    except RequestDataTooBig:
        return None, too_big
    if len(raw) > BODY_MAX_BYTES:
        return None, too_big
    try:
        return json.loads(raw), None
    except (ValueError, RecursionError):
        return None, _error(400, "The request body is not JSON.")


@require_safe
def discovery(request: HttpRequest) -> JsonResponse:
    """GET /cds-services: the services we offer (public: no patient data in it)."""
    return JsonResponse({"services": [SERVICE]})


def _hook_request_error(body: Any) -> str:
    """What is wrong with a hook call's body, or ""."""
    if not isinstance(body, Mapping):
        return "The request body must be a JSON object."
    if body.get("hook") != HOOK:
        return f"This service answers the {HOOK!r} hook."
    instance = body.get("hookInstance")
    if not isinstance(instance, str) or not instance.strip() or len(instance) > 100:
        return "hookInstance must be a non-empty string (a UUID)."
    context = body.get("context")
    if not isinstance(context, Mapping):
        return "context must be an object with patientId."
    patient_id = context.get("patientId")
    if not isinstance(patient_id, str) or not patient_id.strip() or len(patient_id) > 64:
        return "context.patientId must be a FHIR id."
    if "userId" in context and not isinstance(context["userId"], str):
        return "context.userId must be a string."
    if "prefetch" in body and not isinstance(body["prefetch"], Mapping):
        return "prefetch must be an object."
    return ""


def _missing_prefetch(prefetch: Mapping[str, Any]) -> list[str]:
    """Keys the EHR did not satisfy: absent, or an OperationOutcome in place of the data."""
    return [
        key
        for key in PREFETCH
        if key not in prefetch
        or (
            isinstance(prefetch[key], Mapping)
            and prefetch[key].get("resourceType") == "OperationOutcome"
        )
    ]


@csrf_exempt
@require_POST
def service(request: HttpRequest, service_id: str) -> JsonResponse:
    """POST /cds-services/<id>: the patient-view hook -> {"cards": [...]}."""
    if service_id != SERVICE_ID:
        return _error(404, "No such CDS service.")
    started = time.perf_counter()
    try:
        client = _authenticate(request, request.path)
    except CdsAuthError as error:
        return _unauthorized(str(error))
    body, problem = _json_body(request)
    if problem is not None:
        return problem
    message = _hook_request_error(body)
    if message:
        return _error(400, message)
    patient_id = body["context"]["patientId"].strip()
    prefetch = body.get("prefetch") or {}
    missing = _missing_prefetch(prefetch)
    if missing:
        return _error(
            412,
            "Prefetch data is missing and this service does not query the FHIR server: send "
            f"{', '.join(missing)} (null when there is no data).",
            missingPrefetch=missing,
        )
    patient = prefetch["patient"]
    if not isinstance(patient, Mapping) or patient.get("resourceType") != "Patient":
        return _error(412, "The patient prefetch must be the Patient resource in context.")
    if patient.get("id") not in (None, patient_id):
        return _error(400, "The prefetched Patient is not the patient in context.")
    facts = fhir_facts(
        patient=patient,
        today=timezone.localdate(),
        observations=prefetch["observations"],
        conditions=prefetch["conditions"],
        medications=prefetch["medications"],
        allergies=prefetch["allergies"],
    )
    findings = findings_for_facts(facts)
    hook_instance = body["hookInstance"].strip()
    with transaction.atomic():
        uuids = cds_cards_issue(
            client=client,
            service_id=SERVICE_ID,
            hook_instance=hook_instance,
            rule_ids=[finding.rule_id for finding in findings],
        )
        audit_record(
            actor=None,
            action=AuditAction.READ,
            object_type="cds.hook",
            object_id=hook_instance[:64],
            ip=client_ip(request),
            detail={
                "client": client.name,
                "client_id": str(client.public_id),
                "service": SERVICE_ID,
                "cards": len(uuids),
            },
        )
    cards = [
        finding_card(finding, card_uuid=card_uuid, patient_id=patient_id)
        for finding, card_uuid in zip(findings, uuids, strict=True)
    ]
    logger.debug(
        "CDS hook %s for client %s: %d cards in %.0f ms",
        SERVICE_ID,
        client.public_id,
        len(cards),
        (time.perf_counter() - started) * 1000,
    )
    response = JsonResponse({"cards": cards})
    response["Cache-Control"] = "no-store"
    return response


def _feedback_item_error(index: int, item: Any) -> str:
    where = f"feedback[{index}]"
    if not isinstance(item, Mapping):
        return f"{where} must be an object."
    card = item.get("card")
    try:
        uuid.UUID(card if isinstance(card, str) else "")
    except ValueError:
        return f"{where}.card must be the uuid of a card we returned."
    if item.get("outcome") not in ("accepted", "overridden"):
        return f"{where}.outcome must be 'accepted' or 'overridden'."
    if not isinstance(item.get("outcomeTimestamp"), str):
        return f"{where}.outcomeTimestamp is required (ISO 8601, UTC)."
    accepted = item.get("acceptedSuggestions", [])
    if not isinstance(accepted, list) or not all(
        isinstance(s, Mapping) and isinstance(s.get("id"), str) for s in accepted
    ):
        return f"{where}.acceptedSuggestions must be a list of {{id}}."
    reason = item.get("overrideReason")
    if reason is not None:
        if not isinstance(reason, Mapping):
            return f"{where}.overrideReason must be an object."
        coding = reason.get("reason")
        if coding is not None and not (
            isinstance(coding, Mapping) and isinstance(coding.get("code"), str)
        ):
            return f"{where}.overrideReason.reason must be a Coding with a code."
        if not isinstance(reason.get("userComment", ""), str):
            return f"{where}.overrideReason.userComment must be a string."
    return ""


def override_reason(item: Mapping[str, Any]) -> tuple[str, str]:
    """(our decline-reason code, free text) of a feedback item's overrideReason. A reason from
    our list keeps its code; one the EHR added itself is "other", its display kept in the text."""
    reason = item.get("overrideReason")
    if not isinstance(reason, Mapping):
        return "", ""
    comment = str(reason.get("userComment") or "").strip()
    coding = reason.get("reason")
    if not isinstance(coding, Mapping):
        return (DeclineReason.OTHER if comment else ""), comment
    code = str(coding.get("code", "")).strip()
    ours = coding.get("system") in (None, OVERRIDE_REASON_SYSTEM) and code in DeclineReason.values
    if ours:
        return code, comment
    label = str(coding.get("display") or code).strip()
    return DeclineReason.OTHER, f"{label}: {comment}" if comment else label


@csrf_exempt
@require_POST
def feedback(request: HttpRequest, service_id: str) -> JsonResponse:
    """POST /cds-services/<id>/feedback: accepted / overridden outcomes on our cards. All items
    are recorded or none; a retry of the same feedback changes nothing."""
    if service_id != SERVICE_ID:
        return _error(404, "No such CDS service.")
    service_path = request.path.removesuffix("/feedback")
    try:
        client = _authenticate(request, request.path, service_path)
    except CdsAuthError as error:
        return _unauthorized(str(error))
    body, problem = _json_body(request)
    if problem is not None:
        return problem
    items = body.get("feedback") if isinstance(body, Mapping) else None
    if not isinstance(items, list) or not 1 <= len(items) <= FEEDBACK_MAX_ITEMS:
        return _error(400, f"Send {{'feedback': [...]}} with 1 to {FEEDBACK_MAX_ITEMS} items.")
    for index, item in enumerate(items):
        message = _feedback_item_error(index, item)
        if message:
            return _error(400, message)
    try:
        with transaction.atomic():
            for item in items:
                code, text = override_reason(item)
                try:
                    cds_feedback_record(
                        client=client,
                        card_uuid=item["card"],
                        outcome=item["outcome"],
                        override_reason_code=code,
                        override_reason_text=text,
                    )
                except ValidationError:
                    raise _UnknownCard(item["card"]) from None
    except _UnknownCard as unknown:
        return _error(404, "No card with this uuid was returned to this client.", card=str(unknown))
    return JsonResponse({"recorded": len(items)})
