"""What every app's REST API shares: a base view with its metadata and throttling.

Requests are parsed by healthmentor.parsers.SafeJSONParser, REST_FRAMEWORK's only default parser
(JSON only: a form or multipart body is a 415). Imports no app.
"""

from typing import Any, Literal

from django_filters import FilterSet
from drf_spectacular.openapi import AutoSchema
from rest_framework.exceptions import MethodNotAllowed
from rest_framework.generics import GenericAPIView
from rest_framework.metadata import SimpleMetadata
from rest_framework.request import Request
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle
from rest_framework.views import APIView


class BasicMetadata(SimpleMetadata):
    """OPTIONS says what a view is and speaks; request bodies are described by /api/schema/.
    (DRF's default would build the view's serializer, which these views do not declare.)"""

    def determine_actions(self, request: Request, view: APIView) -> dict[str, Any]:
        return {}


# The errors every view may answer with, as healthmentor.api_errors writes them: {"detail": ...}
# or {field: [messages]}.
_ERROR_SCHEMA = {"type": "object", "additionalProperties": True}
_ERRORS = {
    "400": "The request is invalid; the body names each field's problem.",
    "401": "No valid credentials (a token or a signed-in session).",
    "403": "Your role does not allow this.",
    "404": "Not found, or not one of your care teams' records.",
    "429": "Too many requests; retry later.",
}
_BODY_ERRORS = {
    "413": "The request body is larger than the server accepts.",
    "415": "The request body is not JSON (or, for uploads, not multipart).",
}


class ErrorsDocumentedSchema(AutoSchema):
    """The schema of a view also documents the error statuses the API answers with, so that
    clients (and schemathesis) can rely on every status they receive being described."""

    def _get_response_bodies(
        self, direction: Literal["request", "response"] = "response"
    ) -> dict[str, Any]:
        responses: dict[str, Any] = super()._get_response_bodies(direction)
        errors = dict(_ERRORS)
        if self.method in ("POST", "PUT", "PATCH"):
            errors.update(_BODY_ERRORS)
        # JSON, in the view's own JSON flavour (a FHIR view's errors are application/fhir+json).
        media = dict.fromkeys([*self.map_renderers("media_type"), "application/json"])
        content = {m: {"schema": _ERROR_SCHEMA} for m in media if "json" in m}
        for code, description in errors.items():
            responses.setdefault(code, {"description": description, "content": content})
        return responses


class BaseApi(GenericAPIView):
    metadata_class = BasicMetadata
    schema = ErrorsDocumentedSchema()
    # The rates are in settings (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]).
    throttle_classes = [AnonRateThrottle, UserRateThrottle]
    filterset_class: type[FilterSet] | None = None

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # A method the view does not have is a 405 for everyone, before authentication (which
        # would answer an anonymous TRACE with a 401).
        method = request.method or ""
        if not hasattr(self, method.lower()):
            raise MethodNotAllowed(method)
        super().initial(request, *args, **kwargs)
