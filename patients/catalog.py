"""Observation codes (LOINC), canonical units (UCUM), accepted units and plausible ranges.

Pure Python (no Django) so that the risk models and importers share one definition. A value is
stored in its code's canonical unit; a value outside the plausible range is refused as a likely
typing or unit error, not silently kept.
"""

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ObservationType:
    code: str
    display: str
    unit: str
    low: float
    high: float
    category: str  # "vital-signs" or "laboratory"
    # Other accepted units: canonical = value * factor + offset
    conversions: dict[str, tuple[float, float]] = field(default_factory=dict)

    @property
    def units(self) -> list[str]:
        return [self.unit, *self.conversions]


_T = ObservationType
_MGDL_PER_MMOL_CHOL = 38.67
OBSERVATION_TYPES: dict[str, ObservationType] = {
    t.code: t
    for t in [
        _T("8480-6", "Systolic blood pressure", "mm[Hg]", 50, 300, "vital-signs"),
        _T("8462-4", "Diastolic blood pressure", "mm[Hg]", 20, 200, "vital-signs"),
        _T("8867-4", "Heart rate", "/min", 20, 300, "vital-signs"),
        _T("9279-1", "Respiratory rate", "/min", 4, 80, "vital-signs"),
        _T("59408-5", "Oxygen saturation (SpO2)", "%", 50, 100, "vital-signs"),
        _T(
            "8310-5",
            "Body temperature",
            "Cel",
            25,
            45,
            "vital-signs",
            {"[degF]": (5 / 9, -32 * 5 / 9)},
        ),
        _T("29463-7", "Body weight", "kg", 0.3, 400, "vital-signs", {"[lb_av]": (0.45359237, 0)}),
        _T(
            "8302-2",
            "Body height",
            "cm",
            30,
            250,
            "vital-signs",
            {"[in_i]": (2.54, 0), "m": (100, 0)},
        ),
        _T("39156-5", "Body mass index", "kg/m2", 8, 100, "vital-signs"),
        _T("8280-0", "Waist circumference", "cm", 30, 250, "vital-signs", {"[in_i]": (2.54, 0)}),
        _T("39106-0", "Triceps skinfold thickness", "mm", 1, 120, "vital-signs"),
        _T(
            "2345-7",
            "Glucose (serum/plasma)",
            "mg/dL",
            10,
            2000,
            "laboratory",
            {"mmol/L": (18.016, 0)},
        ),
        _T("4548-4", "Hemoglobin A1c", "%", 3, 20, "laboratory", {"mmol/mol": (0.09148, 2.152)}),
        _T(
            "2093-3",
            "Total cholesterol",
            "mg/dL",
            50,
            1000,
            "laboratory",
            {"mmol/L": (_MGDL_PER_MMOL_CHOL, 0)},
        ),
        _T(
            "2085-9",
            "HDL cholesterol",
            "mg/dL",
            5,
            200,
            "laboratory",
            {"mmol/L": (_MGDL_PER_MMOL_CHOL, 0)},
        ),
        _T(
            "13457-7",
            "LDL cholesterol (calculated)",
            "mg/dL",
            10,
            600,
            "laboratory",
            {"mmol/L": (_MGDL_PER_MMOL_CHOL, 0)},
        ),
        _T("2571-8", "Triglycerides", "mg/dL", 10, 5000, "laboratory", {"mmol/L": (88.57, 0)}),
        _T("2160-0", "Creatinine", "mg/dL", 0.1, 20, "laboratory", {"umol/L": (1 / 88.42, 0)}),
        _T("33914-3", "eGFR", "mL/min/{1.73_m2}", 1, 200, "laboratory"),
        _T("2823-3", "Potassium", "mmol/L", 1.5, 10, "laboratory"),
        _T("2951-2", "Sodium", "mmol/L", 100, 180, "laboratory"),
        _T("718-7", "Hemoglobin", "g/dL", 2, 25, "laboratory", {"g/L": (0.1, 0)}),
        _T("6690-2", "White blood cells", "10*3/uL", 0.1, 500, "laboratory"),
        _T("777-3", "Platelets", "10*3/uL", 1, 2000, "laboratory"),
        _T("1742-6", "ALT", "U/L", 1, 10000, "laboratory"),
        _T("1988-5", "C-reactive protein", "mg/L", 0, 500, "laboratory"),
        _T("20448-7", "Insulin (2-hour serum)", "u[IU]/mL", 0, 1000, "laboratory"),
        _T("33762-6", "NT-proBNP", "pg/mL", 0, 100000, "laboratory"),
        _T(
            "2089-1",
            "LDL cholesterol (measured)",
            "mg/dL",
            10,
            600,
            "laboratory",
            {"mmol/L": (_MGDL_PER_MMOL_CHOL, 0)},
        ),
        # Breast tumour characteristics (pathology report), read by the treatment-benefit model.
        _T("21889-1", "Tumour size (greatest dimension)", "mm", 0.1, 300, "laboratory"),
        _T("21893-3", "Regional lymph nodes with metastasis", "{#}", 0, 100, "laboratory"),
        _T("14130-9", "Estrogen receptor (tissue)", "fmol/mg", 0, 5000, "laboratory"),
        _T("14230-7", "Progesterone receptor (tissue)", "fmol/mg", 0, 5000, "laboratory"),
        _T("21858-6", "Histologic grade", "{grade}", 1, 3, "laboratory"),
    ]
}


# UCUM codes are what the record stores; people read these.
UNIT_LABELS: dict[str, str] = {
    "mm[Hg]": "mmHg",
    "/min": "/min",
    "Cel": "°C",
    "[degF]": "°F",
    "[lb_av]": "lb",
    "[in_i]": "in",
    "kg/m2": "kg/m²",
    "10*3/uL": "×10³/µL",  # noqa: RUF001 (the multiplication sign is meant)
    "u[IU]/mL": "µIU/mL",
    "umol/L": "µmol/L",
    "mL/min/{1.73_m2}": "mL/min/1.73 m²",
}


def unit_label(unit: str) -> str:
    """A UCUM unit as people write it ("mm[Hg]" -> "mmHg")."""
    return UNIT_LABELS.get(unit, unit)


class ObservationValueError(ValueError):
    """A value, unit or code that cannot be recorded; the message is for the person entering it."""

    def __init__(self, message: str, *, field: str = "value") -> None:
        super().__init__(message)
        self.field = field


def observation_normalize(code: str, value: float, unit: str) -> tuple[float, str]:
    """The value in its canonical unit, or ObservationValueError saying what is wrong."""
    kind = OBSERVATION_TYPES.get(code)
    if kind is None:
        raise ObservationValueError(f"Unknown observation code {code!r}.", field="code")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ObservationValueError("Enter a number.") from None
    if not math.isfinite(number):
        raise ObservationValueError("Enter a finite number (not NaN or infinity).")
    if unit == kind.unit:
        canonical = number
    elif unit in kind.conversions:
        factor, offset = kind.conversions[unit]
        canonical = number * factor + offset
    else:
        raise ObservationValueError(
            f"{kind.display} is recorded in {', '.join(map(unit_label, kind.units))}, "
            f"not {unit!r}.",
            field="unit",
        )
    if not kind.low <= canonical <= kind.high:
        raise ObservationValueError(
            f"{kind.display} of {number:g} {unit_label(unit)} is outside the plausible range "
            f"{kind.low:g} to {kind.high:g} {unit_label(kind.unit)}: check the value and the unit."
        )
    return round(canonical, 4), kind.unit


@dataclass(frozen=True)
class CodedCondition:
    code: str
    display: str


# A starting list for the history form (ICD-10-CM); any code may be entered.
COMMON_CONDITIONS: list[CodedCondition] = [
    CodedCondition(code, display)
    for code, display in [
        ("E11", "Type 2 diabetes mellitus"),
        ("E10", "Type 1 diabetes mellitus"),
        ("R73.03", "Prediabetes"),
        ("I10", "Essential (primary) hypertension"),
        ("E78.5", "Hyperlipidaemia"),
        ("I25.10", "Coronary artery disease"),
        ("I21.9", "Acute myocardial infarction"),
        ("I48.91", "Atrial fibrillation"),
        ("I50.9", "Heart failure"),
        ("I63.9", "Cerebral infarction (ischaemic stroke)"),
        ("G45.9", "Transient ischaemic attack"),
        ("I73.9", "Peripheral vascular disease"),
        ("N18.3", "Chronic kidney disease, stage 3"),
        ("E66.9", "Obesity"),
        ("J44.9", "Chronic obstructive pulmonary disease"),
        ("J45.909", "Asthma"),
        ("C50.919", "Malignant neoplasm of breast"),
        ("K74.60", "Cirrhosis of liver"),
        ("F32.9", "Major depressive disorder"),
        ("Z87.891", "History of nicotine dependence"),
    ]
]
