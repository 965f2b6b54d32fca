"""Output serializers of the risk API: assessments and model cards. Read-only renderings; inputs
are validated in prediction.apis and every write is a service of prediction.services."""

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from prediction.models import ModelVersion, Outcome, RiskAssessment, RiskBand


class ModelVersionBriefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    disease = serializers.CharField(read_only=True)
    title = serializers.SerializerMethodField()
    version = serializers.CharField(read_only=True)
    algorithm = serializers.CharField(read_only=True)
    synthetic = serializers.SerializerMethodField()
    is_active = serializers.BooleanField(read_only=True)
    card_url = serializers.SerializerMethodField(help_text="This version's card in the API.")
    card_page = serializers.SerializerMethodField(help_text="This version's card as a web page.")

    def get_title(self, version: ModelVersion) -> str:
        return str((version.manifest or {}).get("title") or version.disease)

    def get_synthetic(self, version: ModelVersion) -> bool:
        return version.is_synthetic or bool((version.manifest or {}).get("synthetic"))

    def get_card_url(self, version: ModelVersion) -> str:
        return reverse("api-model", kwargs={"public_id": version.public_id})

    def get_card_page(self, version: ModelVersion) -> str:
        return reverse("prediction:model_detail", kwargs={"public_id": version.public_id})


class ModelCardSerializer(ModelVersionBriefSerializer):
    sha256 = serializers.CharField(read_only=True)
    registered_at = serializers.DateTimeField(read_only=True)
    activated_at = serializers.DateTimeField(read_only=True, allow_null=True)
    manifest = serializers.SerializerMethodField(
        help_text="The artifact's manifest.json: dataset, features, metrics with confidence "
        "intervals, subgroups, the algorithms compared, baseline, published results, caveats."
    )

    @extend_schema_field(serializers.DictField())
    def get_manifest(self, version: ModelVersion) -> dict[str, Any]:
        # The per-bin training distribution is for drift monitoring, not for readers.
        return {k: v for k, v in (version.manifest or {}).items() if k != "reference"}


class ContributionsSerializer(serializers.Serializer):
    space = serializers.ChoiceField(choices=["log-odds", "probability"], read_only=True)
    base = serializers.FloatField(read_only=True)
    features = serializers.DictField(child=serializers.FloatField(), read_only=True)
    calibration_adjustment = serializers.FloatField(read_only=True)
    output = serializers.FloatField(
        read_only=True,
        help_text="base + the features' contributions + calibration_adjustment; the probability "
        "itself (space probability) or its log-odds (space log-odds).",
    )


class InputValueSerializer(serializers.Serializer):
    value = serializers.FloatField(read_only=True)
    unit = serializers.CharField(read_only=True)
    # A declared field named like Field.source: DRF's metaclass takes it out of the class.
    source = serializers.CharField(read_only=True)  # type: ignore[assignment]
    observed_at = serializers.CharField(read_only=True, allow_null=True)
    entered = serializers.BooleanField(
        read_only=True, help_text="Entered or changed by the person who assessed."
    )


class AssessmentSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = serializers.UUIDField(source="patient.public_id", read_only=True)
    disease = serializers.CharField(source="model_version.disease", read_only=True)
    probability = serializers.FloatField(read_only=True)
    risk_band = serializers.ChoiceField(choices=RiskBand.choices, read_only=True)
    contributions = ContributionsSerializer(read_only=True)
    inputs = serializers.DictField(child=InputValueSerializer(), read_only=True)
    model = ModelVersionBriefSerializer(source="model_version", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    created_by = serializers.UUIDField(
        source="created_by.public_id", read_only=True, allow_null=True
    )
    outcome = serializers.ChoiceField(
        choices=[("", "Not recorded"), *Outcome.choices], read_only=True
    )
    outcome_date = serializers.DateField(read_only=True, allow_null=True)
    outcome_recorded_at = serializers.DateTimeField(read_only=True, allow_null=True)
    page = serializers.SerializerMethodField(help_text="The result as a web page.")

    def get_page(self, assessment: RiskAssessment) -> str:
        return reverse("prediction:assessment", kwargs={"public_id": assessment.public_id})
