"""The heart disease model's definition (see prediction.ml.diseases)."""

from prediction.ml.diseases.spec import (
    AGE,
    ENTERED,
    SEX_MALE,
    SYSTOLIC_BP,
    DiseaseSpec,
    FeatureSpec,
    observation,
)

HEART_DISEASE = DiseaseSpec(
    key="heart_disease",
    title="Heart disease (Cleveland exercise-test cohort)",
    outcome=(
        "Heart disease as labelled in the TensorFlow-tutorial version of the Cleveland data "
        "(83 of 303 positive); not UCI's angiographic `num` > 0 (139 of 303)."
    ),
    dataset="Cleveland Heart Disease, TensorFlow-tutorial version (scikit-lego load_hearts)",
    package="scikit-lego",
    loader="sklego.datasets.load_hearts(as_frame=True)",
    licence=(
        "UCI Heart Disease data, CC BY 4.0; shipped in scikit-lego (MIT). A dependency, not "
        "copied into this repository."
    ),
    citation=(
        "Detrano R, Janosi A, Steinbrunn W, et al. International application of a new probability "
        "algorithm for the diagnosis of coronary artery disease. Am J Cardiol 1989;64:304-310. "
        "Janosi A, Steinbrunn W, Pfisterer M, Detrano R. Heart Disease [dataset], UCI Machine "
        "Learning Repository, 1989, doi:10.24432/C52P4X."
    ),
    caveats=(
        "The labels are the TensorFlow-tutorial version of the Cleveland data, not UCI's `num` "
        "(angiographic narrowing > 50 %): 83 positives instead of 139. What exactly a positive "
        "label means is undocumented, so read the probability as 'resembles the labelled "
        "cases', not as a probability of angiographic coronary disease.",
        "303 patients referred for exercise testing in Cleveland in the 1980s; a few rows carry "
        "codes outside the documented ones (chest-pain type 0, thal '1'/'2').",
        "Most of the signal comes from the exercise test, fluoroscopy and thallium scan, which "
        "must be typed in.",
    ),
    features=(
        AGE,
        SEX_MALE,
        SYSTOLIC_BP,
        FeatureSpec(
            "total_cholesterol",
            "Total cholesterol",
            "mg/dL",
            80,
            700,
            "numeric",
            observation("2093-3"),
        ),
        FeatureSpec(
            "chest_pain_asymptomatic",
            "Chest pain type: asymptomatic",
            "",
            0,
            1,
            "binary",
            ENTERED,
            "1 if the patient has no chest pain (neither typical angina, atypical angina nor "
            "non-anginal pain).",
        ),
        FeatureSpec(
            "max_heart_rate_exercise",
            "Maximum heart rate reached in the exercise test",
            "/min",
            50,
            230,
            "numeric",
            ENTERED,
        ),
        FeatureSpec(
            "exercise_angina",
            "Angina induced by exercise",
            "",
            0,
            1,
            "binary",
            ENTERED,
        ),
        FeatureSpec(
            "st_depression_exercise",
            "ST depression induced by exercise relative to rest",
            "mm",
            0,
            10,
            "numeric",
            ENTERED,
            "Cleveland 'oldpeak' (training 0-6.2).",
        ),
        FeatureSpec(
            "major_vessels_fluoroscopy",
            "Major vessels coloured by fluoroscopy",
            "",
            0,
            3,
            "integer",
            ENTERED,
            "Number of major vessels (0-3) coloured by fluoroscopy.",
        ),
        FeatureSpec(
            "thallium_reversible_defect",
            "Thallium scan: reversible defect",
            "",
            0,
            1,
            "binary",
            ENTERED,
        ),
    ),
    max_age_days=365,
    intended_use=(
        "Estimate the probability of heart disease, as labelled in the Cleveland data, for an "
        "adult who has had an exercise test, for teaching and decision support."
    ),
    feature_selection=(
        "Chest pain, thal and ECG categories were one-hot coded and compared by forward "
        "selection; the 10 kept give CV AUROC 0.909 (all 13 Cleveland features: 0.899). ST "
        "slope (two more typed-in fields) adds 0.001 and was left out; fasting blood sugar "
        "> 120 mg/dL (fbs) and the resting ECG lower it (0.907)."
    ),
    published=(
        {
            "source": "not found",
            "metric": "AUROC",
            "value": None,
            "note": "Published Cleveland results (e.g. Detrano et al. 1989) use UCI's `num` > 0 "
            "label; none was found for this relabelled version, so none is comparable.",
        },
    ),
)
