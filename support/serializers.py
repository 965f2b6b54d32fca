"""What the API shows of tickets (output only; inputs are validated in support.apis). Objects and
people are named by their public UUIDs; internal notes reach administrators only (the caller
passes the thread it may see)."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from support.models import Ticket, TicketReply


def _public_id(**kwargs: Any) -> Any:
    return serializers.SlugRelatedField(slug_field="public_id", read_only=True, **kwargs)


class TicketSerializer(serializers.ModelSerializer):
    created_by = _public_id()
    assignee = _public_id(allow_null=True)
    patient = _public_id(allow_null=True)
    risk_assessment = _public_id(allow_null=True)
    study = _public_id(allow_null=True)
    reference = serializers.CharField(read_only=True, help_text="The ticket's short id.")
    has_screenshot = serializers.SerializerMethodField()

    class Meta:
        model = Ticket
        fields = [
            "public_id",
            "reference",
            "category",
            "subject",
            "description",
            "status",
            "page",
            "patient",
            "risk_assessment",
            "study",
            "model_label",
            "has_screenshot",
            "created_by",
            "assignee",
            "created_at",
            "updated_at",
            "resolved_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField())
    def get_has_screenshot(self, ticket: Ticket) -> bool:
        return bool(ticket.screenshot_name)


class TicketReplySerializer(serializers.ModelSerializer):
    author = _public_id()
    from_support = serializers.SerializerMethodField()
    internal = serializers.BooleanField(source="is_internal", read_only=True)

    class Meta:
        model = TicketReply
        fields = ["public_id", "author", "from_support", "body", "internal", "created_at"]
        read_only_fields = fields

    @extend_schema_field(serializers.BooleanField(help_text="Written by support, not the owner."))
    def get_from_support(self, reply: TicketReply) -> bool:
        return reply.author_id != reply.ticket.created_by_id


class TicketDetailSerializer(TicketSerializer):
    replies = serializers.SerializerMethodField()

    class Meta(TicketSerializer.Meta):
        fields = [*TicketSerializer.Meta.fields, "replies"]
        read_only_fields = fields

    @extend_schema_field(TicketReplySerializer(many=True))
    def get_replies(self, ticket: Ticket) -> Any:
        return TicketReplySerializer(self.context["replies"], many=True).data
