"""Output serializers of the recommendations API: read-only renderings of
`selectors.recommendation_payload` and of the rule catalogue with its acceptance rates. They give
the OpenAPI schema its shapes and keep the answers to it; inputs are validated in
recommendations.apis and every write is a service of recommendations.services."""

from rest_framework import serializers

from recommendations.models import Recommendation
from recommendations.selectors import URGENCY_WORDS


class SourceSerializer(serializers.Serializer):
    guideline = serializers.CharField(read_only=True)
    year = serializers.IntegerField(read_only=True)
    section = serializers.CharField(read_only=True)
    url = serializers.CharField(read_only=True, allow_blank=True)


class RuleSourceSerializer(SourceSerializer):
    # Fields named like Field attributes (label, source) confuse the stubs, not DRF.
    label = serializers.CharField(  # type: ignore[assignment]
        read_only=True, help_text="Guideline (year), section."
    )


class ReasonSerializer(serializers.Serializer):
    text = serializers.CharField(read_only=True, help_text="What a clinician reads.")
    code = serializers.CharField(read_only=True, help_text="LOINC, ICD-10, ATC or risk model.")
    value = serializers.CharField(read_only=True, help_text='The value, e.g. "8.1 %".')
    at = serializers.DateField(read_only=True, allow_null=True, help_text="When it was measured.")


class SuppressedSerializer(serializers.Serializer):
    option = serializers.CharField(read_only=True, help_text="The option not offered.")
    reason = serializers.CharField(read_only=True, help_text="Why: the value and its date.")


class SuggestionSerializer(serializers.Serializer):
    label = serializers.CharField(read_only=True)  # type: ignore[assignment]
    kind = serializers.CharField(
        read_only=True, help_text="medication, referral, order or education."
    )
    system = serializers.CharField(read_only=True, allow_blank=True)
    code = serializers.CharField(read_only=True, allow_blank=True)
    display = serializers.CharField(read_only=True, allow_blank=True)


class BenefitSerializer(serializers.Serializer):
    rfs_with = serializers.FloatField(
        read_only=True, help_text="Recurrence-free survival at the horizon with hormonal therapy."
    )
    rfs_without = serializers.FloatField(read_only=True, help_text="... and without it.")
    difference = serializers.FloatField(read_only=True, help_text="rfs_with - rfs_without.")
    ci_with = serializers.ListField(child=serializers.FloatField(), read_only=True)
    ci_without = serializers.ListField(child=serializers.FloatField(), read_only=True)
    ci_difference = serializers.ListField(
        child=serializers.FloatField(), read_only=True, help_text="95% bootstrap interval."
    )
    horizon_years = serializers.FloatField(read_only=True)
    model = serializers.CharField(read_only=True, help_text="<name> <version>.")
    cohort = serializers.CharField(read_only=True, help_text="The trial cohort it learnt from.")
    inputs = serializers.DictField(read_only=True)


class RecommendationSerializer(serializers.Serializer):
    id = serializers.UUIDField(read_only=True)
    patient = serializers.UUIDField(read_only=True, help_text="The patient's public id.")
    rule_id = serializers.CharField(read_only=True)
    title = serializers.CharField(read_only=True)
    action = serializers.CharField(read_only=True, help_text="What to do.")
    category = serializers.CharField(read_only=True)
    urgency = serializers.ChoiceField(choices=sorted(URGENCY_WORDS.values()), read_only=True)
    rank = serializers.IntegerField(read_only=True, help_text="0 = first on the patient's list.")
    strength = serializers.ChoiceField(choices=["strong", "moderate", "weak"], read_only=True)
    evidence = serializers.CharField(read_only=True, help_text="The guideline's own grade.")
    source = SourceSerializer(read_only=True)  # type: ignore[assignment]
    reasons = ReasonSerializer(many=True, read_only=True)
    suppressed = SuppressedSerializer(many=True, read_only=True)
    suggestions = SuggestionSerializer(many=True, read_only=True)
    details = serializers.DictField(read_only=True, help_text="Computed scores, e.g. ascvd_10y.")
    benefit = BenefitSerializer(read_only=True, allow_null=True)
    illustrative = serializers.BooleanField(
        read_only=True, help_text="Based on a demonstration model: not for clinical use."
    )
    illustrative_note = serializers.CharField(read_only=True, allow_blank=True)
    status = serializers.ChoiceField(choices=Recommendation.Status.choices, read_only=True)
    is_current = serializers.BooleanField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    evaluated_at = serializers.DateTimeField(read_only=True)
    decided_at = serializers.DateTimeField(read_only=True, allow_null=True)
    decided_by = serializers.CharField(read_only=True, allow_null=True)
    decline_reason = serializers.CharField(
        read_only=True, allow_blank=True, help_text="A DeclineReason code, when declined."
    )
    decline_note = serializers.CharField(read_only=True, allow_blank=True)


class AcceptanceSerializer(serializers.Serializer):
    decided = serializers.IntegerField(read_only=True)
    accepted = serializers.IntegerField(read_only=True)
    declined = serializers.IntegerField(read_only=True)
    rate = serializers.FloatField(
        read_only=True, allow_null=True, help_text="accepted / decided; null before a decision."
    )
    reasons = serializers.DictField(
        child=serializers.IntegerField(), read_only=True, help_text="{decline reason: count}"
    )


class RuleSerializer(serializers.Serializer):
    id = serializers.CharField(read_only=True)
    title = serializers.CharField(read_only=True)
    category = serializers.CharField(read_only=True)
    description = serializers.CharField(read_only=True, help_text="When it applies.")
    source = RuleSourceSerializer(read_only=True)  # type: ignore[assignment]
    acceptance = AcceptanceSerializer(read_only=True)
