"""The breast cancer model's definition (see prediction.ml.diseases)."""

from prediction.ml.diseases.spec import ENTERED, DiseaseSpec, FeatureSpec

BREAST_CANCER = DiseaseSpec(
    key="breast_cancer",
    title="Breast mass malignancy (fine-needle aspirate cytology)",
    outcome="Malignant (vs benign) breast mass, diagnosis of the WDBC data (sklearn target 0).",
    dataset="Breast Cancer Wisconsin (Diagnostic), WDBC",
    package="scikit-learn",
    loader="sklearn.datasets.load_breast_cancer()",
    licence="CC BY 4.0 (UCI Machine Learning Repository); shipped in scikit-learn (BSD-3-Clause).",
    citation=(
        "Street WN, Wolberg WH, Mangasarian OL. Nuclear feature extraction for breast tumor "
        "diagnosis. IS&T/SPIE 1993 International Symposium on Electronic Imaging, vol. 1905, "
        "pp. 861-870. Wolberg WH, Street WN, Mangasarian OL. Breast Cancer Wisconsin (Diagnostic) "
        "[dataset], UCI Machine Learning Repository, 1995, doi:10.24432/C5DW2B."
    ),
    caveats=(
        "Cytology of fine-needle aspirates: the inputs are nuclear measurements from digitised "
        "images analysed by the Xcyt program (University of Wisconsin, 1990s). Measurements from "
        "other image-analysis software or scanners may not be on the same scale.",
        "569 aspirates from one centre; the data record neither age nor sex, so performance by "
        "subgroup cannot be checked.",
        "An aid to reading cytology, not a diagnosis: a suspicious or malignant result still "
        "needs histology.",
    ),
    features=(
        FeatureSpec(
            "worst_perimeter",
            "Nuclear perimeter, worst (mean of the 3 largest)",
            "",
            0,
            400,
            "numeric",
            ENTERED,
            "Xcyt 'worst perimeter' in the image's units (training range 50-251).",
        ),
        FeatureSpec(
            "worst_texture",
            "Nuclear texture, worst",
            "",
            0,
            100,
            "numeric",
            ENTERED,
            "Xcyt 'worst texture': standard deviation of grey-scale values (training 12-50).",
        ),
        FeatureSpec(
            "worst_smoothness",
            "Nuclear smoothness, worst",
            "",
            0,
            1,
            "numeric",
            ENTERED,
            "Xcyt 'worst smoothness': local variation in radius lengths (training 0.07-0.22).",
        ),
        FeatureSpec(
            "worst_concave_points",
            "Concave points of the contour, worst",
            "",
            0,
            1,
            "numeric",
            ENTERED,
            "Xcyt 'worst concave points' (training 0-0.29).",
        ),
        FeatureSpec(
            "area_error",
            "Nuclear area, standard error",
            "",
            0,
            1500,
            "numeric",
            ENTERED,
            "Xcyt 'area error': standard error of the nuclear area (training 7-542).",
        ),
    ),
    max_age_days=90,
    intended_use=(
        "Estimate the probability that a breast mass is malignant from five nuclear measurements "
        "of its fine-needle aspirate, as a second reader of the cytology report."
    ),
    target_sensitivity=0.95,
    feature_selection=(
        "Greedy forward selection over the 30 WDBC measurements (logistic regression, CV "
        "AUROC): worst perimeter 0.975; with worst smoothness and worst texture 0.991; adding "
        "worst concave points and area error 0.995, the same as all 30 (0.995). A sixth adds "
        "0.001."
    ),
    published=(
        {
            "source": "Street, Wolberg & Mangasarian 1993; UCI WDBC documentation",
            "metric": "accuracy",
            "value": 0.975,
            "note": "Multisurface method-tree on worst area, worst smoothness and mean texture, "
            "repeated 10-fold cross-validation, same 569 aspirates.",
        },
    ),
)
