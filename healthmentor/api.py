"""What every app's REST API shares: a base view with its metadata and throttling.

Requests are parsed by healthmentor.parsers.SafeJSONParser, REST_FRAMEWORK's only default parser
(JSON only: a form or multipart body is a 415). Imports no app.
"""

from typing import Any

from django_filters import FilterSet
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


class BaseApi(GenericAPIView):
    metadata_class = BasicMetadata
    # The rates are in settings (REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]).
    throttle_classes = [AnonRateThrottle, UserRateThrottle]
    filterset_class: type[FilterSet] | None = None
