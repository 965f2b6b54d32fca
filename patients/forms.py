"""Forms of the patient pages. They check shape (types, lengths, dates, choices) and hand
`service_kwargs()` to one service in patients/services.py, which applies the clinical rules.

Limits mirror the model columns so that an over-long value is a field error here, never a
database error later.
"""

import datetime as dt
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from patients.catalog import COMMON_CONDITIONS, OBSERVATION_TYPES, unit_label
from patients.models import (
    Allergy,
    CareTeam,
    Condition,
    FamilyHistory,
    GeneticMarker,
    LifestyleAssessment,
    Medication,
    Sex,
)

_CATEGORY_LABELS = {"vital-signs": "Vital signs", "laboratory": "Laboratory"}


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        # ISO is the only format a type=date input accepts as its value.
        super().__init__(attrs=attrs, format="%Y-%m-%d")


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs=attrs, format="%Y-%m-%dT%H:%M")


def _not_in_future(value: dt.date | None) -> None:
    if value is not None and value > timezone.localdate():
        raise forms.ValidationError("This date is in the future.")


def _date(label: str, *, help_text: str = "", past: bool = True) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=False,
        widget=DateInput(),
        help_text=help_text,
        validators=[_not_in_future] if past else [],
    )


class ServiceForm(forms.Form):
    """A form whose cleaned data are the keyword arguments of one service."""

    def service_kwargs(self) -> dict[str, Any]:
        # Optional text left empty is "" (the models' blank value), never None.
        return dict(self.cleaned_data)


# --- patients ---------------------------------------------------------------------------------


class PatientSearchForm(forms.Form):
    q = forms.CharField(
        label="Search patients",
        max_length=200,
        required=False,
        help_text="Exact MRN, full name or family name",
    )
    page = forms.IntegerField(min_value=1, max_value=1_000_000, required=False)


class PatientForm(ServiceForm):
    """Demographics; on creation also the care teams the patient is placed in."""

    mrn = forms.CharField(
        label="MRN",
        max_length=40,
        help_text="Medical record number, exactly as on the hospital record.",
    )
    given_name = forms.CharField(label="Given name", max_length=100)
    family_name = forms.CharField(label="Family name", max_length=100)
    # The service checks the date of birth too; checking "not in the future" here as well shows
    # that error together with the others instead of after they are fixed.
    date_of_birth = forms.DateField(
        label="Date of birth", widget=DateInput(), validators=[_not_in_future]
    )
    sex = forms.ChoiceField(label="Sex", choices=[("", "Choose…"), *Sex.choices])
    phone = forms.CharField(label="Phone", max_length=40, required=False)
    email = forms.EmailField(label="Email", max_length=254, required=False)
    address = forms.CharField(
        label="Address", max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(
        self, *args: Any, care_teams: QuerySet[CareTeam] | None = None, **kwargs: Any
    ) -> None:
        """With `care_teams` (creation) the form offers those teams; without, it edits
        demographics only."""
        super().__init__(*args, **kwargs)
        if care_teams is not None:
            self.fields["care_teams"] = forms.ModelMultipleChoiceField(
                label="Care teams",
                queryset=care_teams,
                widget=forms.CheckboxSelectMultiple,
                help_text="Members of these teams will see and edit the record.",
                error_messages={"required": "Choose at least one care team."},
            )


# --- record entries ---------------------------------------------------------------------------


class ObservationCodeSelect(forms.Select):
    """Each option carries its accepted units, so static/js/patient-forms.js can narrow the
    unit list; without JavaScript every unit is offered and the service refuses a wrong one."""

    def create_option(self, name: str, value: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option = super().create_option(name, value, *args, **kwargs)
        kind = OBSERVATION_TYPES.get(str(value))
        if kind is not None:
            option["attrs"]["data-units"] = " ".join(kind.units)
        return option


def _observation_code_choices() -> list[tuple[str, Any]]:
    groups: dict[str, list[tuple[str, str]]] = {}
    for kind in OBSERVATION_TYPES.values():
        groups.setdefault(_CATEGORY_LABELS.get(kind.category, kind.category), []).append(
            (kind.code, f"{kind.display} (LOINC {kind.code})")
        )
    return [("", "Choose…"), *groups.items()]


def _unit_choices() -> list[tuple[str, str]]:
    units: dict[str, None] = {}
    for kind in OBSERVATION_TYPES.values():
        units.update(dict.fromkeys(kind.units))
    return [("", "Choose…")] + [(u, unit_label(u)) for u in units]


class ObservationForm(ServiceForm):
    code = forms.ChoiceField(
        label="Measurement",
        choices=_observation_code_choices,
        widget=ObservationCodeSelect(attrs={"data-unit-field": "id_unit"}),
    )
    value = forms.FloatField(
        label="Value",
        help_text="The number only, in the chosen unit; implausible values are refused.",
    )
    unit = forms.ChoiceField(
        label="Unit",
        choices=_unit_choices,
        help_text="Values are stored in the measurement's standard unit (converted if needed). "
        "Body temperature in °C or °F; weight in kg or lb; height in cm, m or in.",
    )
    effective_at = forms.DateTimeField(
        label="Measured at",
        initial=timezone.now,
        widget=DateTimeInput(),
        help_text="When it was measured or sampled; the portal's time zone is "
        f"{timezone.get_default_timezone_name()}.",
    )


class ConditionForm(ServiceForm):
    common = forms.ChoiceField(
        label="Common condition",
        required=False,
        choices=[("", "Choose, or enter a code below…")]
        + [(c.code, f"{c.display} ({c.code})") for c in COMMON_CONDITIONS],
        help_text="Fills the code and description; any other ICD-10-CM code may be typed below.",
    )
    code = forms.CharField(
        label="ICD-10-CM code",
        max_length=20,
        required=False,
        help_text="For example E11 or I10. Needed unless a common condition is chosen.",
    )
    display = forms.CharField(
        label="Description",
        max_length=200,
        required=False,
        help_text="Needed unless a common condition is chosen.",
    )
    onset_date = _date("Onset date", help_text="Leave empty if unknown.")
    status = forms.ChoiceField(label="Status", choices=Condition.Status.choices)
    notes = forms.CharField(
        label="Notes", max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Required one way or the other (see clean): not marked "(optional)" on the page.
        for name in ("code", "display"):
            self.fields[name].hide_optional = True  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        chosen = next((c for c in COMMON_CONDITIONS if c.code == data.get("common")), None)
        if chosen is not None:
            data["code"] = data.get("code") or chosen.code
            data["display"] = data.get("display") or chosen.display
        if not data.get("code") and "code" not in self.errors:
            self.add_error("code", "Choose a common condition or enter an ICD-10-CM code.")
        if not data.get("display") and "display" not in self.errors:
            self.add_error("display", "Enter a description of the condition.")
        return data

    def service_kwargs(self) -> dict[str, Any]:
        kwargs = super().service_kwargs()
        kwargs.pop("common", None)
        return kwargs


class MedicationForm(ServiceForm):
    name = forms.CharField(label="Medicine", max_length=120)
    code = forms.CharField(
        label="Code", max_length=20, required=False, help_text="ATC or RxNorm code, if known."
    )
    dose = forms.DecimalField(
        label="Dose",
        required=False,
        min_value=0,
        max_digits=10,
        decimal_places=3,
        help_text="Amount per administration, in the dose unit.",
    )
    dose_unit = forms.CharField(
        label="Dose unit",
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"list": "dose-units"}),
        help_text="For example mg, mcg, g, mL, units or puffs.",
    )
    frequency = forms.CharField(
        label="Frequency",
        max_length=60,
        required=False,
        widget=forms.TextInput(attrs={"list": "frequencies"}),
        help_text="For example once daily, twice daily, every 8 hours, as needed.",
    )
    route = forms.ChoiceField(label="Route", choices=Medication.Route.choices)
    start_date = _date("Start date", past=False)
    end_date = _date("End date", past=False, help_text="Leave empty for an ongoing medicine.")
    status = forms.ChoiceField(label="Status", choices=Medication.Status.choices)


class AllergyForm(ServiceForm):
    substance = forms.CharField(label="Substance", max_length=120)
    code = forms.CharField(label="Code", max_length=20, required=False, help_text="If known.")
    reaction = forms.CharField(
        label="Reaction", max_length=200, required=False, help_text="For example rash, anaphylaxis."
    )
    severity = forms.ChoiceField(
        label="Severity", choices=[("", "Choose…"), *Allergy.Severity.choices]
    )
    noted_on = _date("Noted on")


class LifestyleForm(ServiceForm):
    assessed_on = forms.DateField(
        label="Assessed on",
        initial=timezone.localdate,
        widget=DateInput(),
        validators=[_not_in_future],
    )
    # No preselected answer: a default would be recorded as if it had been asked.
    smoking = forms.ChoiceField(
        label="Smoking", choices=[("", "Choose…"), *LifestyleAssessment.Smoking.choices]
    )
    pack_years = forms.FloatField(
        label="Pack-years",
        required=False,
        min_value=0,
        max_value=200,
        help_text="Packs (20 cigarettes) per day times years smoked. Empty if never smoked.",
    )
    alcohol_units_per_week = forms.FloatField(
        label="Alcohol",
        required=False,
        min_value=0,
        max_value=300,
        help_text="Units per week (1 unit = 8 g, or 10 mL, of pure alcohol).",
    )
    activity_minutes_per_week = forms.IntegerField(
        label="Physical activity",
        required=False,
        min_value=0,
        max_value=5000,
        help_text="Minutes of moderate or vigorous activity per week.",
    )
    diet = forms.ChoiceField(
        label="Diet",
        required=False,
        choices=[("", "Not assessed"), *LifestyleAssessment.Diet.choices],
    )
    notes = forms.CharField(
        label="Notes", max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class FamilyHistoryForm(ServiceForm):
    relation = forms.ChoiceField(
        label="Relative", choices=[("", "Choose…"), *FamilyHistory.Relation.choices]
    )
    condition_display = forms.CharField(
        label="Condition",
        max_length=200,
        widget=forms.TextInput(attrs={"list": "common-conditions"}),
    )
    condition_code = forms.CharField(
        label="ICD-10-CM code", max_length=20, required=False, help_text="If known."
    )
    onset_age = forms.IntegerField(
        label="Age at onset",
        required=False,
        min_value=0,
        max_value=120,
        help_text="In years, if known.",
    )


class GeneticMarkerForm(ServiceForm):
    gene = forms.CharField(label="Gene", max_length=30, help_text="HGNC symbol, e.g. BRCA1.")
    variant = forms.CharField(
        label="Variant", max_length=120, help_text="HGVS notation, e.g. c.68_69del."
    )
    zygosity = forms.ChoiceField(
        label="Zygosity", choices=[("", "Choose…"), *GeneticMarker.Zygosity.choices]
    )
    interpretation = forms.ChoiceField(
        label="Interpretation",
        choices=GeneticMarker.Interpretation.choices,
        initial=GeneticMarker.Interpretation.UNCERTAIN,
    )
    tested_on = _date("Tested on")
