"""The patient record: demographics (PHI encrypted at rest), care teams, and clinical entries.

Demographic PHI lives only in encrypted columns; exact-match search goes through blind indexes
(`*_index`, HMAC of the normalized value) kept in step by the services. Access is per object:
a care team's auth Group holds django-guardian permissions on each of the team's patients.
"""

import uuid
from datetime import date

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from patients.crypto import (
    EncryptedCharField,
    EncryptedDateField,
    EncryptedEmailField,
    EncryptedTextField,
)


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


class Source(models.TextChoices):
    MANUAL = "manual", "Entered by staff"
    IMPORT = "import", "Imported"
    DEVICE = "device", "Device"
    DEMO = "demo", "Synthetic demo data"


class CareTeam(models.Model):
    """A team of staff caring for a set of patients; its members are its Group's users."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120, unique=True)
    description = models.CharField(max_length=300, blank=True)
    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="care_team")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Patient(models.Model):
    """A patient. Invariant: every `*_index` equals blind_index() of its encrypted field."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    mrn = EncryptedCharField("MRN", max_length=40)
    mrn_index = models.CharField(max_length=64, unique=True, editable=False)
    given_name = EncryptedCharField(max_length=100)
    family_name = EncryptedCharField(max_length=100)
    name_index = models.CharField(max_length=64, db_index=True, editable=False)
    family_name_index = models.CharField(max_length=64, db_index=True, editable=False)
    date_of_birth = EncryptedDateField()
    sex = EncryptedCharField(max_length=10, choices=Sex.choices)
    phone = EncryptedCharField(max_length=40, blank=True)
    email = EncryptedEmailField(blank=True)
    address = EncryptedTextField(blank=True)
    care_teams = models.ManyToManyField(CareTeam, related_name="patients", blank=True)
    is_synthetic = models.BooleanField(
        default=False, help_text="Generated demo patient, not a real person."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        # Never PHI: str() ends up in logs, admin messages and error reports.
        return f"Patient {self.public_id}"

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def age_on(self, day: date) -> int:
        dob = self.date_of_birth
        return day.year - dob.year - ((day.month, day.day) < (dob.month, dob.day))

    @property
    def age(self) -> int:
        return self.age_on(timezone.localdate())


class RecordEntry(models.Model):
    """Common shape of an entry in a patient's record."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="%(class)ss")
    recorded_at = models.DateTimeField(default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)

    class Meta:
        abstract = True


class Condition(RecordEntry):
    """A coded diagnosis in the history (ICD-10-CM by default)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RESOLVED = "resolved", "Resolved"

    system = models.CharField(max_length=20, default="ICD-10")
    code = models.CharField(max_length=20)
    display = models.CharField(max_length=200)
    onset_date = models.DateField(null=True, blank=True)
    resolved_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    notes = models.TextField(blank=True, max_length=2000)

    class Meta:
        ordering = ["-onset_date", "-recorded_at"]

    def __str__(self) -> str:
        return f"{self.code} {self.display}"


class Medication(RecordEntry):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        STOPPED = "stopped", "Stopped"

    class Route(models.TextChoices):
        ORAL = "oral", "Oral"
        IV = "iv", "Intravenous"
        SC = "sc", "Subcutaneous"
        IM = "im", "Intramuscular"
        INHALED = "inhaled", "Inhaled"
        TOPICAL = "topical", "Topical"
        OTHER = "other", "Other"

    name = models.CharField(max_length=120)
    code = models.CharField(max_length=20, blank=True, help_text="ATC or RxNorm code, if known.")
    dose = models.DecimalField(
        max_digits=10, decimal_places=3, validators=[MinValueValidator(0)], null=True, blank=True
    )
    dose_unit = models.CharField(max_length=20, blank=True)
    frequency = models.CharField(max_length=60, blank=True)
    route = models.CharField(max_length=10, choices=Route.choices, default=Route.ORAL)
    start_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)

    class Meta:
        ordering = ["status", "-start_date"]

    def __str__(self) -> str:
        return self.name


class Allergy(RecordEntry):
    class Severity(models.TextChoices):
        MILD = "mild", "Mild"
        MODERATE = "moderate", "Moderate"
        SEVERE = "severe", "Severe"

    substance = models.CharField(max_length=120)
    code = models.CharField(max_length=20, blank=True)
    reaction = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MODERATE)
    noted_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["substance"]
        verbose_name_plural = "allergies"

    def __str__(self) -> str:
        return self.substance


class Observation(RecordEntry):
    """A vital sign or lab result, stored in the catalog's canonical unit (patients.catalog)."""

    code = models.CharField(max_length=20, help_text="LOINC code")
    display = models.CharField(max_length=120)
    value = models.FloatField()
    unit = models.CharField(max_length=30, help_text="UCUM unit")
    effective_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-effective_at"]
        indexes = [models.Index(fields=["patient", "code", "-effective_at"])]

    def __str__(self) -> str:
        return f"{self.display} {self.value:g} {self.unit}"


class LifestyleAssessment(RecordEntry):
    class Smoking(models.TextChoices):
        NEVER = "never", "Never smoked"
        FORMER = "former", "Former smoker"
        CURRENT = "current", "Current smoker"
        UNKNOWN = "unknown", "Unknown"

    class Diet(models.TextChoices):
        BALANCED = "balanced", "Balanced"
        MEDITERRANEAN = "mediterranean", "Mediterranean"
        VEGETARIAN = "vegetarian", "Vegetarian / vegan"
        HIGH_SALT = "high_salt", "High salt"
        HIGH_SUGAR = "high_sugar", "High sugar / processed"
        OTHER = "other", "Other"

    assessed_on = models.DateField(default=timezone.localdate)
    smoking = models.CharField(max_length=10, choices=Smoking.choices, default=Smoking.UNKNOWN)
    pack_years = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(200)]
    )
    alcohol_units_per_week = models.FloatField(
        null=True, blank=True, validators=[MinValueValidator(0), MaxValueValidator(300)]
    )
    activity_minutes_per_week = models.PositiveIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(5000)]
    )
    diet = models.CharField(max_length=15, choices=Diet.choices, blank=True)
    notes = models.TextField(blank=True, max_length=2000)

    class Meta:
        ordering = ["-assessed_on"]

    def __str__(self) -> str:
        return f"Lifestyle on {self.assessed_on}"


class FamilyHistory(RecordEntry):
    class Relation(models.TextChoices):
        MOTHER = "mother", "Mother"
        FATHER = "father", "Father"
        SISTER = "sister", "Sister"
        BROTHER = "brother", "Brother"
        DAUGHTER = "daughter", "Daughter"
        SON = "son", "Son"
        GRANDPARENT = "grandparent", "Grandparent"
        AUNT_UNCLE = "aunt_uncle", "Aunt or uncle"
        OTHER = "other", "Other relative"

    relation = models.CharField(max_length=15, choices=Relation.choices)
    condition_code = models.CharField(max_length=20, blank=True)
    condition_display = models.CharField(max_length=200)
    onset_age = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(120)]
    )

    class Meta:
        ordering = ["relation"]
        verbose_name_plural = "family history"

    def __str__(self) -> str:
        return f"{self.get_relation_display()}: {self.condition_display}"


class GeneticMarker(RecordEntry):
    class Zygosity(models.TextChoices):
        HETEROZYGOUS = "heterozygous", "Heterozygous"
        HOMOZYGOUS = "homozygous", "Homozygous"
        HEMIZYGOUS = "hemizygous", "Hemizygous"
        UNKNOWN = "unknown", "Unknown"

    class Interpretation(models.TextChoices):
        PATHOGENIC = "pathogenic", "Pathogenic"
        LIKELY_PATHOGENIC = "likely_pathogenic", "Likely pathogenic"
        UNCERTAIN = "uncertain", "Uncertain significance"
        LIKELY_BENIGN = "likely_benign", "Likely benign"
        BENIGN = "benign", "Benign"

    gene = models.CharField(max_length=30, help_text="HGNC symbol, e.g. BRCA1")
    variant = models.CharField(max_length=120, help_text="HGVS notation, e.g. c.68_69del")
    zygosity = models.CharField(max_length=15, choices=Zygosity.choices)
    interpretation = models.CharField(
        max_length=20, choices=Interpretation.choices, default=Interpretation.UNCERTAIN
    )
    tested_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["gene"]

    def __str__(self) -> str:
        return f"{self.gene} {self.variant}"
