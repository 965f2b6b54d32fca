"""Recommendations over REST, under /api/v1/recommendations/ (Django REST framework).

Thin views, as in imaging.apis: an input serializer validates, one service or selector does the
work, `selectors.recommendation_payload` (through recommendations.serializers) renders. A
recommendation is reached through `recommendation_get_for_user` (404, audited, for another care
team); every response showing one appends an audit READ, and the services audit the decisions.

Who: care-team members read (clinicians, nurses, radiologists, admins); researchers get 403.
Clinicians and admins decide: anyone else gets 403. Deciding again is allowed: the new decision
replaces the previous one on the recommendation, and both stay in the feedback history and the
audit trail. A recommendation replaced by newer advice is a 409: decide on the current one.
"""

import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.audit import client_ip
from accounts.models import Role
from healthmentor.api import BaseApi
from patients.apis.base import StrictFieldsMixin, audit_read, request_patient, request_user
from recommendations import selectors, services
from recommendations import serializers as out
from recommendations.forms import NOTE_MAX_CHARS
from recommendations.models import DeclineReason, Recommendation

REASON_CODES = ", ".join(DeclineReason.values)
NOT_FOUND = OpenApiResponse(description="No such recommendation, or not one of your patients'.")
REFUSED = OpenApiResponse(description="Your role does not decide on recommendations.")
REPLACED = OpenApiResponse(description="Replaced by newer advice: decide on the current one.")


class RecommendationReplaced(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = (
        "This recommendation has been replaced by newer advice for the patient; decide on the "
        "current one."
    )
    default_code = "replaced"


class MayRead(BasePermission):
    message = "Recommendations are shown to care teams only (not to researchers)."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request_user(request)
        return user.is_portal_admin or user.role != Role.RESEARCHER


class MayDecide(BasePermission):
    message = "Your role does not allow deciding on recommendations (clinicians and admins do)."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return selectors.user_may_decide(user=request_user(request))


def recommendation_of_request(
    request: Request, public_id: uuid.UUID, want: str = "view"
) -> Recommendation:
    return selectors.recommendation_get_for_user(
        user=request_user(request), public_id=public_id, ip=client_ip(request._request), want=want
    )


def _render(request: Request, rec: Recommendation, view: str) -> Response:
    audit_read(request, patient=rec.patient, view=view, recommendation=str(rec.public_id))
    return Response(out.RecommendationSerializer(selectors.recommendation_payload(rec)).data)


class RecommendationListQuery(serializers.Serializer):
    patient = serializers.UUIDField(required=False)
    status = serializers.ChoiceField(choices=Recommendation.Status.values, required=False)


@extend_schema_view(
    get=extend_schema(
        summary="Current recommendations you may see",
        description="Paginated; by patient, then rank (most urgent and strongest first). "
        "Only current advice: a recommendation replaced by newer advice is not listed.",
        parameters=[
            OpenApiParameter("patient", OpenApiTypes.UUID, description="A patient's public id."),
            OpenApiParameter("status", OpenApiTypes.STR, enum=Recommendation.Status.values),
        ],
        responses=out.RecommendationSerializer(many=True),
    )
)
@extend_schema(tags=["recommendations"])
class RecommendationListApi(BaseApi):
    queryset = Recommendation.objects.none()
    filter_backends = []
    permission_classes = [*BaseApi.permission_classes, MayRead]

    def get(self, request: Request) -> Response:
        query = RecommendationListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        filters = query.validated_data
        recs = (
            selectors.recommendations_visible_to(user=request_user(request))
            .filter(is_current=True)
            .select_related("patient", "decided_by")
            .order_by("patient_id", "rank", "pk")
        )
        patient = None
        if "patient" in filters:
            patient = request_patient(request, filters["patient"])
            recs = recs.filter(patient=patient)
        if "status" in filters:
            recs = recs.filter(status=filters["status"])
        rows = self.paginate_queryset(recs) or []
        audit_read(
            request,
            patient=patient,
            view="recommendation_list",
            count=len(rows),
            recommendations=[str(r.public_id) for r in rows],
        )
        payloads = [selectors.recommendation_payload(rec) for rec in rows]
        return self.get_paginated_response(out.RecommendationSerializer(payloads, many=True).data)


@extend_schema_view(
    get=extend_schema(
        summary="One recommendation",
        description="What to do, why (the patient's values with their dates), the evidence and "
        "its source, suppressed options, the benefit estimate, and the decision if any.",
        responses={200: out.RecommendationSerializer, 404: NOT_FOUND},
    )
)
@extend_schema(tags=["recommendations"])
class RecommendationDetailApi(BaseApi):
    queryset = Recommendation.objects.none()
    filter_backends = []
    permission_classes = [*BaseApi.permission_classes, MayRead]

    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        return _render(request, recommendation_of_request(request, public_id), "recommendation")


def _current(rec: Recommendation) -> Recommendation:
    if not rec.is_current:
        raise RecommendationReplaced()
    return rec


@extend_schema_view(
    post=extend_schema(
        summary="Accept a recommendation (clinicians and admins)",
        description="No body. Recorded with you and the time, audited, and shown in the "
        "patient's timeline. Accepting a declined recommendation changes the decision.",
        request=None,
        responses={200: out.RecommendationSerializer, 403: REFUSED, 404: NOT_FOUND, 409: REPLACED},
    )
)
@extend_schema(tags=["recommendations"])
class RecommendationAcceptApi(BaseApi):
    queryset = Recommendation.objects.none()
    filter_backends = []
    permission_classes = [*BaseApi.permission_classes, MayDecide]

    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        rec = _current(recommendation_of_request(request, public_id, want="accept"))
        rec = services.recommendation_accept(
            by=request_user(request), recommendation=rec, ip=client_ip(request._request)
        )
        return _render(request, rec, "recommendation_accept")


@extend_schema_serializer(
    component_name="RecommendationDecline",
    examples=[
        OpenApiExample("Patient declined", value={"reason": "patient_declined"}),
        OpenApiExample(
            "Other, with a note",
            value={"reason": "other", "note": "Already started by cardiology last week."},
        ),
    ],
)
class DeclineIn(StrictFieldsMixin, serializers.Serializer):
    reason = serializers.ChoiceField(
        choices=DeclineReason.choices,
        help_text="Why it is declined.",
        error_messages={
            "required": f"Give a reason for declining: one of {REASON_CODES}.",
            "null": f"Give a reason for declining: one of {REASON_CODES}.",
            "invalid_choice": f'"{{input}}" is not a decline reason; use one of {REASON_CODES}.',
        },
    )
    note = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=NOTE_MAX_CHARS,
        default="",
        help_text='Free text; required when the reason is "other".',
    )


@extend_schema_view(
    post=extend_schema(
        summary="Decline a recommendation, with a reason (clinicians and admins)",
        description="`reason` is one of the listed codes; `note` is free text, required for "
        "`other`. Recorded with you and the time, audited, shown in the patient's timeline. "
        "Declining an accepted recommendation changes the decision.",
        request=DeclineIn,
        responses={
            200: out.RecommendationSerializer,
            400: OpenApiResponse(description="No reason, an unknown one, or other without a note."),
            403: REFUSED,
            404: NOT_FOUND,
            409: REPLACED,
        },
    )
)
@extend_schema(tags=["recommendations"])
class RecommendationDeclineApi(BaseApi):
    queryset = Recommendation.objects.none()
    filter_backends = []
    permission_classes = [*BaseApi.permission_classes, MayDecide]

    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        rec = _current(recommendation_of_request(request, public_id, want="decline"))
        data = DeclineIn(data=request.data)
        data.is_valid(raise_exception=True)
        rec = services.recommendation_decline(
            by=request_user(request),
            recommendation=rec,
            reason=data.validated_data["reason"],
            note=data.validated_data["note"],
            ip=client_ip(request._request),
        )
        return _render(request, rec, "recommendation_decline")


@extend_schema_view(
    get=extend_schema(
        summary="The rule catalogue with each rule's acceptance rate (clinicians and admins)",
        description="Every rule the engine runs: when it applies, its guideline source, and how "
        "often its recommendations were accepted (portal decisions, latest per recommendation, "
        "and EHR feedback through CDS Hooks), with the decline reasons counted.",
        responses={200: out.RuleSerializer(many=True), 403: REFUSED},
    )
)
@extend_schema(tags=["recommendations"])
class RuleListApi(BaseApi):
    queryset = Recommendation.objects.none()
    filter_backends = []
    pagination_class = None
    permission_classes = [*BaseApi.permission_classes, MayDecide]

    def get(self, request: Request) -> Response:
        rates = {row["rule_id"]: row for row in selectors.acceptance_rates()}
        empty: dict[str, object] = {
            "decided": 0,
            "accepted": 0,
            "declined": 0,
            "rate": None,
            "reasons": {},
        }
        rules = [
            {**rule, "acceptance": rates.get(rule["id"], empty)}
            for rule in selectors.rule_catalogue()
        ]
        return Response(out.RuleSerializer(rules, many=True).data)
