"""The mi mortality model's definition (see prediction.ml.diseases)."""

from prediction.ml.diseases.spec import (
    AGE,
    BMI,
    SEX_MALE,
    DiseaseSpec,
    FeatureSpec,
    condition,
    observation,
)

MI_MORTALITY = DiseaseSpec(
    key="mi_mortality",
    title="Death within 1 year after myocardial infarction",
    outcome=(
        "Death from any cause within 365 days of admission for acute myocardial infarction. "
        "Every patient in WHAS500 either died or was followed for at least 365 days, so this "
        "label is fully observed (138 deaths)."
    ),
    dataset="Worcester Heart Attack Study, WHAS500",
    package="scikit-survival",
    loader="sksurv.datasets.load_whas500()",
    licence=(
        "Teaching data of Hosmer, Lemeshow & May (2008), shipped in scikit-survival (GPL-3); a "
        "dependency, not copied into this repository."
    ),
    citation=(
        "Hosmer DW, Lemeshow S, May S. Applied Survival Analysis: Regression Modeling of Time to "
        "Event Data, 2nd ed. Wiley, 2008 (WHAS500 data set)."
    ),
    caveats=(
        "The study records death over variable follow-up (up to about 6.5 years; 215 deaths). "
        "This model predicts death within 1 year of admission only, which every patient's "
        "follow-up covers.",
        "500 patients admitted with myocardial infarction in Worcester, Massachusetts, in "
        "1997-2001; treatment has changed since, which can shift the risk.",
        "Meant for use at admission: vital signs are the values on admission, and heart failure "
        "and cardiogenic shock are complications of this admission.",
    ),
    features=(
        AGE,
        SEX_MALE,
        FeatureSpec(
            "heart_rate",
            "Heart rate on admission",
            "/min",
            20,
            250,
            "numeric",
            observation("8867-4"),
        ),
        FeatureSpec(
            "systolic_bp",
            "Systolic blood pressure on admission",
            "mm[Hg]",
            50,
            300,
            "numeric",
            observation("8480-6"),
        ),
        FeatureSpec(
            "diastolic_bp",
            "Diastolic blood pressure on admission",
            "mm[Hg]",
            20,
            200,
            "numeric",
            observation("8462-4"),
        ),
        BMI,
        FeatureSpec(
            "heart_failure",
            "Heart failure (congestive complications)",
            "",
            0,
            1,
            "binary",
            condition("I50", "I11.0", "I13.0", "I13.2"),
        ),
        FeatureSpec(
            "cardiogenic_shock", "Cardiogenic shock", "", 0, 1, "binary", condition("R57.0")
        ),
    ),
    max_age_days=7,
    intended_use=(
        "Estimate the probability of death within one year for an adult admitted with acute "
        "myocardial infarction, to support discussion of prognosis and follow-up intensity."
    ),
    feature_selection=(
        "From age, sex, heart rate, blood pressures, BMI, heart failure, shock, atrial "
        "fibrillation, cardiovascular history, complete heart block, recurrent MI and MI type "
        "(length of stay excluded: it is not known at admission). The 8 kept, all from the "
        "record, give CV AUROC 0.815; all 13: 0.805; adding atrial fibrillation: 0.814."
    ),
    published=(
        {
            "source": "not found",
            "metric": "AUROC",
            "value": None,
            "note": "Hosmer, Lemeshow & May analyse WHAS500 with survival (Cox) models; no "
            "AUROC for 1-year death on these data was found.",
        },
    ),
)
