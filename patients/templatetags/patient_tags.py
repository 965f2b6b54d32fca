"""Display helpers for the patient pages: readable units, reference flags, timeline kinds."""

from decimal import Decimal

from django import template

from patients.catalog import unit_label

register = template.Library()

TIMELINE_KIND_LABELS: dict[str, str] = {
    "observation": "Vital / lab",
    "condition": "Condition",
    "medication": "Medication",
    "allergy": "Allergy",
    "lifestyle": "Lifestyle",
    "family": "Family history",
    "genetic": "Genetics",
}


@register.filter(name="unit")
def unit_filter(unit: str) -> str:
    """`{{ obs.unit|unit }}`: the readable form of a UCUM unit."""
    return unit_label(unit)


@register.filter
def number(value: float | Decimal | None) -> str:
    """A value without trailing zeros or exponent (72.0 -> 72, Decimal("500.000") -> 500)."""
    if value is None or value == "":
        return ""
    text = format(Decimal(str(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@register.filter
def measure(value: float | None) -> str:
    """A measured value at a readable precision: values converted between units are stored to
    four decimals (142.3264 mg/dL), more than any measurement carries. 142, 36.9, 1.11."""
    if value is None:
        return ""
    magnitude = abs(value)
    places = 0 if magnitude >= 100 else 1 if magnitude >= 10 else 2
    return number(round(value, places))


@register.filter
def timeline_kind(kind: str) -> str:
    return TIMELINE_KIND_LABELS.get(kind, kind.title())
