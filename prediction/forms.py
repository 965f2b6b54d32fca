"""Forms of the risk pages: the assessment form, built per disease from the patient's features,
and the form that records the real outcome later.

The forms check shape (a finite number, a whole number, yes or no, inside the feature's range);
`prediction.services.risk_assess` checks again and its ValidationError lands on the same fields.
"""

import datetime as dt
import math
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.formats import date_format

from patients.catalog import OBSERVATION_TYPES, unit_label
from patients.forms import DateInput
from prediction.features import FeatureValue
from prediction.models import Outcome

# Longer than any number a person types; a megabyte of digits is refused before parsing.
_MAX_NUMBER_CHARS = 40
_NOT_A_NUMBER = "Enter a number, for example 7 or 142.5 (not NaN or infinity)."


def unit_text(unit: str) -> str:
    """A feature's UCUM unit as people write it; "a" (years, UCUM's annum) reads "years"."""
    return "years" if unit == "a" else unit_label(unit)


def lower_first(name: str) -> str:
    """ "Body mass index" -> "body mass index"; "ALT", "eGFR", "NT-proBNP" stay as they are."""
    return name[:1].lower() + name[1:] if name[1:2].islower() and name[:1].isupper() else name


def figure(value: float) -> str:
    """A measured or entered value at a readable precision: 162, 32.4, 13.33, 0.124."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    if abs(value) >= 1:
        return f"{round(value, 2):,.2f}".replace(",", "").rstrip("0").rstrip(".")
    return f"{value:.3g}"


def _figure(value: float) -> str:
    """A bound of a range as people write it: 0, 2.5, 200."""
    return f"{value:g}"


def _range_text(fv: FeatureValue) -> str:
    unit = unit_text(fv.spec.unit)
    return f"{_figure(fv.spec.low)} to {_figure(fv.spec.high)}{f' {unit}' if unit else ''}"


class _RangeMixin:
    """Length guard, then the feature's plausible range with a message naming it."""

    feature: FeatureValue

    def _guard_length(self, value: Any) -> None:
        if isinstance(value, str) and len(value) > _MAX_NUMBER_CHARS:
            raise forms.ValidationError(_NOT_A_NUMBER, code="invalid")

    def _check_range(self, value: float | None) -> None:
        if value is None:
            return
        spec = self.feature.spec
        if value < 0 <= spec.low:
            raise forms.ValidationError(
                f"{spec.label} cannot be negative (allowed: {_range_text(self.feature)}).",
                code="min_value",
            )
        if not spec.low <= value <= spec.high:
            raise forms.ValidationError(
                f"{spec.label} must be from {_range_text(self.feature)}: check the value "
                "and the unit.",
                code="out_of_range",
            )


class FeatureNumberField(_RangeMixin, forms.FloatField):
    default_error_messages = {"invalid": _NOT_A_NUMBER}

    def __init__(self, *, feature: FeatureValue, **kwargs: Any) -> None:
        self.feature = feature
        super().__init__(**kwargs)

    # django-stubs type FloatField.to_python as IntegerField's (int | None); it returns a float.
    def to_python(self, value: Any) -> float | None:  # type: ignore[override]
        self._guard_length(value)
        return super().to_python(value)

    def validate(self, value: Any) -> None:
        super().validate(value)  # NaN and infinities are "invalid" there
        self._check_range(value)


class FeatureIntegerField(_RangeMixin, forms.IntegerField):
    default_error_messages = {"invalid": "Enter a whole number, for example 0, 2 or 3."}

    def __init__(self, *, feature: FeatureValue, **kwargs: Any) -> None:
        self.feature = feature
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> int | None:
        self._guard_length(value)
        return super().to_python(value)

    def validate(self, value: Any) -> None:
        super().validate(value)
        self._check_range(value)


def _when(observed_at: dt.datetime | dt.date | None) -> str:
    if observed_at is None:
        return ""
    if isinstance(observed_at, dt.datetime):
        observed_at = timezone.localtime(observed_at).date() if observed_at.tzinfo else observed_at
    return date_format(observed_at, "j M Y")


def feature_status(fv: FeatureValue) -> str:
    """The value's state on the form: "record" (a current value from the record), "stale" or
    "missing" (both to be entered)."""
    if fv.value is None:
        return "missing"
    return "stale" if fv.stale else "record"


def _initial(fv: FeatureValue) -> Any:
    if feature_status(fv) != "record" or fv.value is None:
        return None
    if fv.spec.kind in ("integer", "binary") or fv.value.is_integer():
        return round(fv.value)  # 162, not "162.0"
    return fv.value


def _help(fv: FeatureValue) -> str:
    parts = [fv.spec.help.rstrip(".") + "." if fv.spec.help else ""]
    if fv.spec.kind != "binary":
        parts.append(f"Allowed: {_range_text(fv)}.")
    return " ".join(p for p in parts if p)


def _feature_field(fv: FeatureValue) -> forms.Field:
    spec = fv.spec
    unit = unit_text(spec.unit)
    label = f"{spec.label} ({unit})" if unit else spec.label
    common: dict[str, Any] = {
        "label": label,
        "required": True,
        "help_text": _help(fv),
        "initial": _initial(fv),
        "error_messages": {"required": f"Enter {lower_first(spec.label)}."},
    }
    if spec.kind == "binary":
        common["error_messages"] = {
            "required": "Answer yes or no.",
            "invalid_choice": "Answer yes or no.",
        }
        return forms.TypedChoiceField(
            choices=[(1, "Yes"), (0, "No")],
            coerce=int,
            widget=forms.RadioSelect,
            **common,
        )
    attrs = {"min": _figure(spec.low), "max": _figure(spec.high), "inputmode": "decimal"}
    if spec.kind == "integer":
        attrs["inputmode"] = "numeric"
        return FeatureIntegerField(
            feature=fv, widget=forms.NumberInput(attrs={**attrs, "step": "1"}), **common
        )
    return FeatureNumberField(
        feature=fv, widget=forms.NumberInput(attrs={**attrs, "step": "any"}), **common
    )


def _same(entered: float, recorded: float) -> bool:
    return math.isclose(entered, recorded, rel_tol=1e-9, abs_tol=1e-9)


class RiskAssessmentForm(forms.Form):
    """One field per feature of a disease model, named after the feature.

    A current value from the record is pre-filled; a stale or missing one is left empty and must
    be entered. `overrides()` are the values to hand to `risk_assess`: those entered where the
    record had none (or a stale one), and those the clinician changed; an unchanged record value
    is not an override, so the assessment keeps its source and date.
    """

    def __init__(self, data: Any = None, *, features: list[FeatureValue]) -> None:
        super().__init__(data)
        self.features = {fv.spec.name: fv for fv in features}
        for fv in features:
            self.fields[fv.spec.name] = _feature_field(fv)

    def rows(self) -> list[dict[str, Any]]:
        """Each field with what the page says about its value: status, source and date."""
        return [
            {
                "field": self[name],
                "feature": fv,
                "status": feature_status(fv),
                "when": _when(fv.observed_at),
                "recorded": _recorded_text(fv),
                "source": _source(fv),
            }
            for name, fv in self.features.items()
        ]

    def overrides(self) -> dict[str, float]:
        changed: dict[str, float] = {}
        for name, fv in self.features.items():
            value = self.cleaned_data[name]
            if value is None:
                continue
            recorded = fv.value if feature_status(fv) == "record" else None
            if recorded is not None and _same(float(value), float(recorded)):
                continue
            changed[name] = float(value)
        return changed


def _source(fv: FeatureValue) -> str:
    """Where the value came from or, for a missing one, why the form asks for it."""
    source = fv.spec.source
    obs = (
        OBSERVATION_TYPES.get(str(source.get("code")))
        if source.get("type") == "observation"
        else None
    )
    if fv.value is not None:
        if obs is not None and fv.observed_at is not None:
            return f"{obs.display}, measured {_when(fv.observed_at)} (LOINC {obs.code})"
        return fv.source
    if source.get("type") == "observation":
        name = lower_first(obs.display) if obs else "result"
        return f"Not in the record (no {name}, LOINC {source.get('code')})."
    if source.get("type") == "entered":
        return "Not kept in the record."
    return f"{fv.source}."


def _recorded_text(fv: FeatureValue) -> str:
    """The record's value as people read it (for a stale value: what was last recorded)."""
    if fv.value is None:
        return ""
    if fv.spec.kind == "binary":
        return "Yes" if fv.value >= 0.5 else "No"
    unit = unit_text(fv.spec.unit)
    return f"{figure(fv.value)}{f' {unit}' if unit else ''}"


def _not_in_future(value: dt.date | None) -> None:
    if value is not None and value > timezone.localdate():
        raise forms.ValidationError("This date is in the future.")


class OutcomeForm(forms.Form):
    """What really happened, for the monitoring of the model."""

    outcome = forms.ChoiceField(
        label="Outcome",
        choices=Outcome.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose confirmed or ruled out.",
            "invalid_choice": "Choose confirmed or ruled out.",
        },
    )
    outcome_date = forms.DateField(
        label="Date of diagnosis or of ruling it out",
        widget=DateInput(),
        validators=[_not_in_future],
        error_messages={"required": "Enter the date.", "invalid": "Enter a valid date."},
    )
