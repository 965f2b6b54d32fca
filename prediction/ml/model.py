"""A trained disease-risk model loaded from its artifact: validated inputs, a calibrated
probability and per-feature contributions that add up to the model's output exactly.

The artifact's model.skops holds a dict: the fitted scikit-learn estimator, the feature names, which
score the estimator gives ("decision": log-odds, or "proba": a probability) and the sigmoid (Platt)
calibration fitted on out-of-fold scores: calibrated probability = expit(a * score + b). Because
that map is affine in the score, contributions stay exact:

- logistic regression (space "log-odds"): contribution_j = a * coef_j * (x_j - mean_j) / sd_j, the
  training mean and SD of the scaler; base = a * intercept + b (the calibrated logit of a patient
  at the training means); output = the calibrated logit.
- gradient boosting (space "log-odds"): TreeSHAP values of the raw log-odds scaled by a; base =
  a * expected value + b.
- random forest and decision tree (space "probability"): TreeSHAP values of the uncalibrated
  probability; base = the expected value; `calibration_adjustment` = calibrated - uncalibrated.

In every case base + sum(contributions) + calibration_adjustment == output; any rounding residue
of TreeSHAP (~1e-16) is folded into the adjustment. shap is imported only when a tree model
explains (the import takes seconds).
"""

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import expit
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from healthmentor.artifacts import ArtifactIntegrityError, manifest_read_verified
from prediction.ml.persist import model_load

MODEL_FILE = "model.skops"
PAYLOAD_FORMAT = 1
_TREES = (RandomForestClassifier, DecisionTreeClassifier, GradientBoostingClassifier)
_PAYLOAD_KEYS = frozenset(
    ("format", "disease", "algorithm", "feature_names", "estimator", "score", "calibration")
)


@dataclass(frozen=True)
class Prediction:
    """A calibrated probability and its explanation. Invariant:
    base + sum(contributions.values()) + calibration_adjustment == output (to ~1e-12), where
    output is `probability` (space "probability") or logit(probability) (space "log-odds")."""

    probability: float
    space: str
    base: float
    contributions: dict[str, float]
    calibration_adjustment: float
    output: float


def estimator_score(estimator: Any, X: np.ndarray, score: str) -> np.ndarray:
    """The score the calibration was fitted on: decision_function (log-odds) or P(class 1)."""
    if score == "decision":
        return np.asarray(estimator.decision_function(X), dtype=float)
    return np.asarray(estimator.predict_proba(X)[:, 1], dtype=float)


def risk_band(probability: float, manifest: dict[str, Any]) -> str:
    """The band of a probability: "high" at or above manifest["bands"]["high"], "moderate" at or
    above manifest["bands"]["moderate"], else "low"."""
    bands = manifest["bands"]
    if probability >= bands["high"]:
        return "high"
    return "moderate" if probability >= bands["moderate"] else "low"


def _is_linear(estimator: Any) -> bool:
    return (
        isinstance(estimator, Pipeline)
        and len(estimator.steps) == 2
        and isinstance(estimator.steps[0][1], StandardScaler)
        and isinstance(estimator.steps[1][1], LogisticRegression)
    )


class RiskModel:
    """One disease model version, ready to score. Build it with load_risk_model()."""

    def __init__(self, manifest: dict[str, Any], payload: Any) -> None:
        if (
            not isinstance(payload, dict)
            or not payload.keys() >= _PAYLOAD_KEYS
            or payload["format"] != PAYLOAD_FORMAT
        ):
            raise ArtifactIntegrityError("The model file does not hold a risk-model payload.")
        estimator: Any = payload.get("estimator")
        if not (_is_linear(estimator) or isinstance(estimator, _TREES)):
            raise ArtifactIntegrityError(
                f"The model file holds an unexpected estimator ({type(estimator).__name__})."
            )
        names = [str(name) for name in payload["feature_names"]]
        # The manifest was checked against the model file's digest, not against its content:
        # a manifest edited to describe other features or another model is refused here.
        described = [feature["name"] for feature in manifest.get("features", [])]
        for field, ours, theirs in (
            ("features", names, described),
            ("disease", payload["disease"], manifest.get("disease")),
            ("algorithm", payload["algorithm"], manifest.get("algorithm")),
        ):
            if ours != theirs:
                raise ArtifactIntegrityError(
                    f"The manifest and the model file disagree on {field}: {theirs!r} vs {ours!r}."
                )
        self.manifest = manifest
        self.disease: str = payload["disease"]
        self.version: str = manifest["version"]
        self.feature_names: list[str] = names
        self._features = {feature["name"]: feature for feature in manifest["features"]}
        self._estimator = estimator
        self._score: str = payload["score"]
        self._a = float(payload["calibration"]["a"])
        self._b = float(payload["calibration"]["b"])
        self._explainer: Any = None
        self._lock = threading.Lock()
        if _is_linear(estimator):  # the terms in numpy: no per-call scikit-learn overhead
            scaler, regression = estimator[0], estimator[1]
            self._mean = np.asarray(scaler.mean_, dtype=float)
            self._scale = np.asarray(scaler.scale_, dtype=float)
            self._coef = self._a * np.asarray(regression.coef_[0], dtype=float)
            self._base = self._a * float(regression.intercept_[0]) + self._b

    def __repr__(self) -> str:
        return f"<RiskModel {self.disease} {self.version}>"

    def predict_proba_raw(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probabilities of an n x k array in feature_names order, without checks or
        explanations: the bare estimator path."""
        score = estimator_score(self._estimator, np.asarray(X, dtype=float), self._score)
        return np.asarray(expit(self._a * score + self._b), dtype=float)

    def predict(self, values: Mapping[str, float]) -> Prediction:
        """The calibrated probability for one patient with its exact per-feature contributions.
        ValueError, naming the feature, for a missing, non-finite, out-of-range or ill-typed
        value; extra keys are ignored."""
        x = self._vector(values)
        if _is_linear(self._estimator):
            return self._explain_linear(x)
        return self._explain_tree(x)

    def _vector(self, values: Mapping[str, float]) -> np.ndarray:
        row = []
        for name in self.feature_names:
            spec = self._features[name]
            where = f"{name} ({spec['label']})"
            raw = values.get(name)
            if raw is None:
                raise ValueError(f"{where}: a value is required.")
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise ValueError(f"{where}: {raw!r} is not a number.") from None
            if not math.isfinite(value):
                raise ValueError(f"{where}: {raw!r} is not a finite number.")
            if not spec["low"] <= value <= spec["high"]:
                unit = f" {spec['unit']}" if spec["unit"] else ""
                raise ValueError(
                    f"{where}: {value:g} is outside the accepted range "
                    f"{spec['low']:g} to {spec['high']:g}{unit}."
                )
            if spec["kind"] == "binary" and value not in (0.0, 1.0):
                raise ValueError(f"{where}: must be 0 (no) or 1 (yes), not {value:g}.")
            if spec["kind"] == "integer" and not value.is_integer():
                raise ValueError(f"{where}: must be a whole number, not {value:g}.")
            row.append(value)
        return np.asarray([row], dtype=float)

    def _explain_linear(self, x: np.ndarray) -> Prediction:
        terms = self._coef * ((x[0] - self._mean) / self._scale)
        contributions = {name: float(t) for name, t in zip(self.feature_names, terms, strict=True)}
        output = self._base + sum(contributions.values())
        return Prediction(
            probability=float(expit(output)),
            space="log-odds",
            base=self._base,
            contributions=contributions,
            calibration_adjustment=0.0,
            output=output,
        )

    def warm_up(self) -> None:
        """Build what the first prediction would otherwise build (a tree model's TreeSHAP
        explainer, which imports shap: seconds), so that no patient's request pays for it."""
        if not _is_linear(self._estimator):
            self._tree_explainer()

    def _tree_explainer(self) -> Any:
        with self._lock:
            if self._explainer is None:
                import shap  # slow to import: only when a tree model explains

                self._explainer = shap.TreeExplainer(self._estimator)
            return self._explainer

    def _explain_tree(self, x: np.ndarray) -> Prediction:
        explainer = self._tree_explainer()
        values = np.asarray(explainer.shap_values(x))
        expected = np.ravel(explainer.expected_value)
        score = float(estimator_score(self._estimator, x, self._score)[0])
        if self._score == "decision":  # gradient boosting: TreeSHAP of the log-odds, scaled by a
            phi, base = self._a * values[0], self._a * float(expected[0]) + self._b
            output = self._a * score + self._b
            space, probability = "log-odds", float(expit(output))
        else:  # forests and trees: TreeSHAP of the uncalibrated probability
            phi, base = values[0, :, 1], float(expected[1])
            probability = float(expit(self._a * score + self._b))
            space, output = "probability", probability
        contributions = {name: float(v) for name, v in zip(self.feature_names, phi, strict=True)}
        return Prediction(
            probability=probability,
            space=space,
            base=base,
            contributions=contributions,
            calibration_adjustment=output - (base + sum(contributions.values())),
            output=output,
        )


def load_risk_model(folder: Path) -> RiskModel:
    """The model in `folder` after its sha256 matched its manifest (ArtifactIntegrityError
    otherwise) and its skops file named only allowed types (UntrustedArtifactError otherwise),
    warmed up: a tree model's explainer is built (and shap imported) here, not on first use."""
    folder = Path(folder)
    manifest = manifest_read_verified(folder, MODEL_FILE)
    model = RiskModel(manifest, model_load(folder / MODEL_FILE))
    model.warm_up()
    return model
