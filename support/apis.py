"""Helpdesk tickets over REST, under /api/v1/support/ (Django REST framework).

Thin views, as in patients.apis: a strict input serializer (an unknown field is a 400 naming it),
one service or selector, support.serializers to render. Users see and answer their own tickets;
administrators see every ticket and may write internal notes. Another user's ticket is a 404,
like one that does not exist. Links to a patient or an AI result are checked by the service
(404 for one the caller may not see). Screenshots are attached through the portal's form only:
the API speaks JSON.
"""

import uuid
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.audit import client_ip
from healthmentor.api import BaseApi
from patients.apis.base import StrictFieldsMixin, request_user
from support import serializers as out
from support.models import DESCRIPTION_MAX, REPLY_MAX, SUBJECT_MAX, Ticket
from support.selectors import (
    ticket_get_for_user,
    ticket_replies_for_user,
    tickets_for_user,
)
from support.services import ticket_open, ticket_reply

STATUS_FILTERS = ["active", *Ticket.Status.values]


@extend_schema_serializer(component_name="TicketOpen")
class TicketIn(StrictFieldsMixin, serializers.Serializer):
    category = serializers.ChoiceField(choices=Ticket.Category.choices)
    subject = serializers.CharField(max_length=SUBJECT_MAX)
    description = serializers.CharField(max_length=DESCRIPTION_MAX)
    page = serializers.CharField(
        max_length=2000,
        required=False,
        allow_blank=True,
        help_text="The portal page it concerns, as a path of this site (a query string is "
        "dropped; an absolute URL is refused).",
    )
    patient = serializers.UUIDField(
        required=False, allow_null=True, help_text="A patient you may see (public id)."
    )
    risk_assessment = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="A risk assessment that looks wrong (makes the category ai_result).",
    )
    study = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="An imaging study whose result looks wrong (makes the category ai_result).",
    )


@extend_schema_serializer(component_name="TicketReplyIn")
class ReplyIn(StrictFieldsMixin, serializers.Serializer):
    body = serializers.CharField(max_length=REPLY_MAX)
    internal = serializers.BooleanField(
        required=False, default=False, help_text="An internal note (administrators only)."
    )


class TicketListQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=STATUS_FILTERS, required=False)


def _ticket(request: Request, public_id: uuid.UUID) -> Ticket:
    return ticket_get_for_user(
        user=request_user(request), public_id=public_id, ip=client_ip(request._request)
    )


def _detail(request: Request, ticket: Ticket) -> dict[str, Any]:
    replies = list(ticket_replies_for_user(user=request_user(request), ticket=ticket))
    return dict(out.TicketDetailSerializer(ticket, context={"replies": replies}).data)


@extend_schema_view(
    get=extend_schema(
        summary="Support tickets: yours (administrators: all)",
        description="Paginated, the most recently active first. `status=active` gives the "
        "tickets still open, in progress or waiting.",
        parameters=[OpenApiParameter("status", OpenApiTypes.STR, enum=STATUS_FILTERS)],
        responses=out.TicketSerializer(many=True),
    ),
    post=extend_schema(
        summary="Open a support ticket",
        description="A `patient`, `risk_assessment` or `study` must be one you may see (else "
        "404). Linking a result makes the ticket an `ai_result` one, counted against the "
        "result's model version on the model-quality dashboard.",
        request=TicketIn,
        responses={201: out.TicketDetailSerializer},
    ),
)
@extend_schema(tags=["support"])
class TicketListApi(BaseApi):
    queryset = Ticket.objects.none()
    filter_backends = []

    def get(self, request: Request) -> Response:
        query = TicketListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        tickets = tickets_for_user(
            user=request_user(request), status=query.validated_data.get("status", "")
        ).select_related("patient", "risk_assessment", "study")
        rows = self.paginate_queryset(tickets) or []
        return self.get_paginated_response(out.TicketSerializer(rows, many=True).data)

    def post(self, request: Request) -> Response:
        data = TicketIn(data=request.data)
        data.is_valid(raise_exception=True)
        ticket = ticket_open(
            by=request_user(request), ip=client_ip(request._request), **data.validated_data
        )
        return Response(_detail(request, ticket), status=status.HTTP_201_CREATED)


@extend_schema_view(
    get=extend_schema(
        summary="One support ticket and its replies",
        description="Internal notes are listed to administrators only.",
        responses=out.TicketDetailSerializer,
    )
)
@extend_schema(tags=["support"])
class TicketDetailApi(BaseApi):
    queryset = Ticket.objects.none()
    filter_backends = []

    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        ticket = _ticket(request, public_id)
        return Response(_detail(request, ticket))


@extend_schema_view(
    post=extend_schema(
        summary="Reply on a support ticket",
        description="The owner's reply reopens a ticket waiting for them or resolved; a closed "
        "ticket takes no reply (400). `internal` is for administrators (403 otherwise).",
        request=ReplyIn,
        responses={201: out.TicketReplySerializer},
    )
)
@extend_schema(tags=["support"])
class TicketReplyApi(BaseApi):
    queryset = Ticket.objects.none()
    filter_backends = []

    def post(self, request: Request, public_id: uuid.UUID) -> Response:
        ticket = _ticket(request, public_id)
        data = ReplyIn(data=request.data)
        data.is_valid(raise_exception=True)
        reply = ticket_reply(by=request_user(request), ticket=ticket, **data.validated_data)
        return Response(out.TicketReplySerializer(reply).data, status=status.HTTP_201_CREATED)
