"""The disease-risk models: what each predicts, from which real dataset, with which features.

A FeatureSpec says where its value lives in a patient record (`source`, read by prediction.features)
in the canonical unit of patients/catalog.py, and the range a value must lie in. Features were
chosen for a clinician filling a form: as many as possible come from the record, and the few typed
in ("entered") are ones a clinician has on a report. Each choice was checked by repeated stratified
cross-validation (5 folds x 3 repeats, the training seed; mean AUROC of a standardised logistic
regression); `feature_selection` says what was left out and what it cost. Selecting on the same
data the metrics are estimated on makes those estimates slightly optimistic; the cards say so.

Nothing here loads data: prediction.ml.datasets does, from packages installed in the environment.
"""

from prediction.ml.diseases.breast_cancer import BREAST_CANCER
from prediction.ml.diseases.diabetes import DIABETES
from prediction.ml.diseases.heart_disease import HEART_DISEASE
from prediction.ml.diseases.ischemic_stroke import ISCHEMIC_STROKE
from prediction.ml.diseases.mi_mortality import MI_MORTALITY
from prediction.ml.diseases.spec import DiseaseSpec, FeatureKind, FeatureSpec

DISEASES: dict[str, DiseaseSpec] = {
    spec.key: spec
    for spec in (DIABETES, BREAST_CANCER, HEART_DISEASE, MI_MORTALITY, ISCHEMIC_STROKE)
}

__all__ = ["DISEASES", "DiseaseSpec", "FeatureKind", "FeatureSpec"]
