"""What the API shows of the patient record (output only; inputs are validated in patients.apis).

Objects are named by their public UUID; integer keys never leave the database. People (authors,
creators) are named by their user public id.
"""

from typing import Any

from rest_framework import serializers

from patients.models import (
    Allergy,
    Condition,
    FamilyHistory,
    GeneticMarker,
    LifestyleAssessment,
    Medication,
    Observation,
    Patient,
)

_ENTRY_FIELDS = ["public_id", "recorded_at", "recorded_by", "source"]


def _public_id(**kwargs: Any) -> Any:
    return serializers.SlugRelatedField(slug_field="public_id", read_only=True, **kwargs)


class PatientSerializer(serializers.ModelSerializer):
    care_teams = _public_id(many=True)
    created_by = _public_id(allow_null=True)
    # Blank when none was given, which an OpenAPI "format: email" would refuse.
    email = serializers.CharField(read_only=True, help_text="An email address, or blank.")

    class Meta:
        model = Patient
        fields = [
            "public_id",
            "mrn",
            "given_name",
            "family_name",
            "date_of_birth",
            "sex",
            "phone",
            "email",
            "address",
            "care_teams",
            "is_synthetic",
            "created_by",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance: Patient) -> dict[str, Any]:
        # The patient list's hot path (up to 100 rows a page): the values ModelSerializer's
        # generic to_representation gives these fields (tests/api/test_patients_api.py compares
        # the two), without its dispatch through one field object per value, which cost 60 µs a
        # row. Datetimes still go through their fields (time zone, format).
        fields = self.fields
        created_by = instance.created_by
        return {
            "public_id": str(instance.public_id),
            "mrn": instance.mrn,
            "given_name": instance.given_name,
            "family_name": instance.family_name,
            "date_of_birth": fields["date_of_birth"].to_representation(instance.date_of_birth),
            "sex": instance.sex,
            "phone": instance.phone,
            "email": instance.email,
            "address": instance.address,
            "care_teams": [team.public_id for team in instance.care_teams.all()],
            "is_synthetic": instance.is_synthetic,
            "created_by": created_by.public_id if created_by is not None else None,
            "created_at": fields["created_at"].to_representation(instance.created_at),
            "updated_at": fields["updated_at"].to_representation(instance.updated_at),
        }


class RecordEntrySerializer(serializers.ModelSerializer):
    recorded_by = _public_id(allow_null=True)


class ObservationSerializer(RecordEntrySerializer):
    class Meta:
        model = Observation
        fields = [*_ENTRY_FIELDS, "code", "display", "value", "unit", "effective_at"]
        read_only_fields = fields


class ConditionSerializer(RecordEntrySerializer):
    class Meta:
        model = Condition
        fields = [
            *_ENTRY_FIELDS,
            "system",
            "code",
            "display",
            "onset_date",
            "resolved_date",
            "status",
            "notes",
        ]
        read_only_fields = fields


class MedicationSerializer(RecordEntrySerializer):
    class Meta:
        model = Medication
        fields = [
            *_ENTRY_FIELDS,
            "name",
            "code",
            "dose",
            "dose_unit",
            "frequency",
            "route",
            "start_date",
            "end_date",
            "status",
        ]
        read_only_fields = fields


class AllergySerializer(RecordEntrySerializer):
    class Meta:
        model = Allergy
        fields = [*_ENTRY_FIELDS, "substance", "code", "reaction", "severity", "noted_on"]
        read_only_fields = fields


class LifestyleAssessmentSerializer(RecordEntrySerializer):
    # Blank when not assessed: the schema's enum must allow "" (ModelSerializer drops allow_blank
    # on read-only fields).
    diet = serializers.ChoiceField(
        choices=LifestyleAssessment.Diet.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = LifestyleAssessment
        fields = [
            *_ENTRY_FIELDS,
            "assessed_on",
            "smoking",
            "pack_years",
            "alcohol_units_per_week",
            "activity_minutes_per_week",
            "diet",
            "notes",
        ]
        read_only_fields = fields


class FamilyHistorySerializer(RecordEntrySerializer):
    class Meta:
        model = FamilyHistory
        fields = [*_ENTRY_FIELDS, "relation", "condition_code", "condition_display", "onset_age"]
        read_only_fields = fields


class GeneticMarkerSerializer(RecordEntrySerializer):
    class Meta:
        model = GeneticMarker
        fields = [*_ENTRY_FIELDS, "gene", "variant", "zygosity", "interpretation", "tested_on"]
        read_only_fields = fields


class TimelineItemSerializer(serializers.Serializer):
    """One line of `patients.selectors.patient_timeline`; `entry` names the record entry."""

    at = serializers.DateTimeField()
    kind = serializers.CharField(help_text="observation, condition, medication, allergy, ...")
    title = serializers.CharField()
    detail = serializers.CharField()
    entry = serializers.UUIDField(source="entry.public_id")


class CareTeamSerializer(serializers.Serializer):
    """A care team the caller may register patients in."""

    public_id = serializers.UUIDField(help_text="The id to name in a patient's `care_teams`.")
    name = serializers.CharField()
    description = serializers.CharField()


class ObservationCodeSerializer(serializers.Serializer):
    """A code of the observation catalog (patients.catalog)."""

    code = serializers.CharField(help_text="LOINC code")
    display = serializers.CharField()
    category = serializers.CharField(help_text="vital-signs or laboratory")
    unit = serializers.CharField(help_text="Canonical UCUM unit: values are stored in it.")
    units = serializers.ListField(
        child=serializers.CharField(), help_text="Units accepted on entry, canonical first."
    )
    low = serializers.FloatField(help_text="Lowest plausible value, in the canonical unit.")
    high = serializers.FloatField(help_text="Highest plausible value, in the canonical unit.")
