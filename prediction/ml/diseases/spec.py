"""FeatureSpec and DiseaseSpec, and the features several diseases share."""

from dataclasses import dataclass, field
from typing import Any, Literal

FeatureKind = Literal["numeric", "integer", "binary"]


@dataclass(frozen=True)
class FeatureSpec:
    """One model input. `unit` is UCUM ("" for binary values and counts); `low`..`high` is the
    range a value must lie in; `source` tells the record reader where to find it."""

    name: str
    label: str
    unit: str
    low: float
    high: float
    kind: FeatureKind
    source: dict[str, Any]
    help: str = ""


@dataclass(frozen=True)
class DiseaseSpec:
    """A disease model's definition and provenance. `dataset`, `package`, `loader`, `licence` and
    `citation` go onto its card; `caveats` too, verbatim. `max_age_days`: a record value older than
    this is stale and asked for again. `target_sensitivity` fixes the operating threshold (the
    highest threshold whose out-of-fold sensitivity reaches it)."""

    key: str
    title: str
    outcome: str
    dataset: str
    package: str
    loader: str
    licence: str
    citation: str
    caveats: tuple[str, ...]
    features: tuple[FeatureSpec, ...]
    max_age_days: int
    intended_use: str = ""
    target_sensitivity: float = 0.80
    feature_selection: str = ""
    published: tuple[dict[str, Any], ...] = field(default=())

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]


def observation(code: str) -> dict[str, Any]:
    return {"type": "observation", "code": code}


def condition(*codes: str) -> dict[str, Any]:
    return {"type": "condition", "codes": list(codes)}


ENTERED: dict[str, Any] = {"type": "entered"}

AGE = FeatureSpec("age", "Age", "a", 18, 110, "integer", {"type": "age"}, "Whole years.")
SEX_MALE = FeatureSpec("sex_male", "Male sex", "", 0, 1, "binary", {"type": "sex_male"})
BMI = FeatureSpec("bmi", "Body mass index", "kg/m2", 12, 80, "numeric", observation("39156-5"))
SYSTOLIC_BP = FeatureSpec(
    "systolic_bp", "Systolic blood pressure", "mm[Hg]", 60, 260, "numeric", observation("8480-6")
)
