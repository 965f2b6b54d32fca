"""Type 2 diabetes rules: glycaemic target, HbA1c monitoring, unconfirmed hyperglycaemia, metformin,
and an SGLT2 inhibitor or GLP-1 receptor agonist with cardiovascular, kidney or heart disease.

Source: American Diabetes Association Professional Practice Committee, Standards of Care in
Diabetes—2025, Diabetes Care 2025;48(Suppl 1). ADA evidence grades: A (trials), B (cohort
studies), C (poorly controlled studies), E (expert consensus).
"""

from recommendations.engine import register
from recommendations.engine.facts import ConditionFact, PatientFacts
from recommendations.engine.rules.cardiometabolic import (
    DIABETES,
    EGFR,
    FASTING_GLUCOSE,
    GLUCOSE,
    HBA1C,
    HEART_FAILURE,
    LAB_MAX_AGE,
    TYPE_1_DIABETES,
    TYPE_2_DIABETES,
    allergy_suppression,
    ascvd_reasons,
    ckd_reasons,
    condition_reason,
    day,
    drug,
    number,
    obs_reason,
    value_text,
)
from recommendations.engine.types import (
    Finding,
    Reason,
    Rule,
    Source,
    Suggestion,
    Suppression,
    Urgency,
)

ADA = "ADA Standards of Care in Diabetes—2025"
ADA_URL = "https://diabetesjournals.org/care/issue/48/Supplement_1"

SOURCE_GOALS = Source(ADA, 2025, "6 (Glycemic Goals and Hypoglycemia); 13 (Older Adults)", ADA_URL)
SOURCE_DIAGNOSIS = Source(
    ADA, 2025, "2 (Diagnosis and Classification of Diabetes), diagnostic criteria", ADA_URL
)
SOURCE_PHARMACOLOGY = Source(
    ADA, 2025, "9 (Pharmacologic Approaches to Glycemic Treatment), Fig. 9.3", ADA_URL
)
SOURCE_CARDIORENAL = Source(
    ADA,
    2025,
    "9 (Pharmacologic Approaches, Fig. 9.3); 10 (Cardiovascular Disease and Risk Management); "
    "11 (Chronic Kidney Disease and Risk Management)",
    ADA_URL,
)

# Conditions that shorten life expectancy or make hypoglycaemia more harmful than tight control
# helps (ADA section 6: a less stringent goal such as < 8 %): palliative care, metastatic cancer,
# dementia, end-stage kidney disease.
LIMITED_LIFE_EXPECTANCY = ("Z51.5", "C77", "C78", "C79", "C80", "G30", "F01", "F02", "F03", "N18.6")
GESTATIONAL_DIABETES = ("O24",)
KETOACIDOSIS = ("E08.1", "E09.1", "E10.1", "E11.1", "E13.1")
SEVERE_LIVER_DISEASE = ("K72", "K70.4", "K71.1", "K76.7")  # hepatic failure, hepatorenal syndrome
THYROID_CARCINOMA = ("C73", "Z85.850")
MEN2 = ("E31.22", "E31.23")
PANCREATITIS = ("K85", "K86.1")

METFORMIN = "A10BA02"
SGLT2I, GLP1RA = "A10BK", "A10BJ"
SGLT2I_NAMES = ("gliflozin",)
# Tirzepatide (dual GIP/GLP-1 receptor agonist, A10BX16) counts as the GLP-1 RA option here.
GLP1RA_NAMES = ("glutide", "exenatide", "lixisenatide", "tirzepatide")


def _type2(facts: PatientFacts) -> ConditionFact | None:
    return facts.condition(*TYPE_2_DIABETES)


# --- glycaemic target ----------------------------------------------------------------------------


def glycaemic_target(facts: PatientFacts) -> Finding | None:
    t2d = _type2(facts)
    hba1c = facts.obs(HBA1C, LAB_MAX_AGE)
    if t2d is None or hba1c is None:
        return None
    relaxed: list[Reason] = []
    if facts.age is not None and facts.age >= 75:
        relaxed.append(Reason(f"Age {facts.age} (≥ 75: less stringent goal)", value=str(facts.age)))
    for condition in facts.conditions:
        if condition.code.upper().startswith(LIMITED_LIFE_EXPECTANCY):
            relaxed.append(
                condition_reason(condition, "Life-limiting condition", "less stringent goal")
            )
    target = 8.0 if relaxed else 7.0
    if hba1c.value < target:
        return None
    action = (
        f"HbA1c is above the individualised goal of < {number(target)} %: review adherence, "
        "hypoglycaemia and lifestyle, then intensify glucose-lowering therapy without delay."
    )
    if hba1c.value >= 10:
        action += (
            " With HbA1c ≥ 10 % consider insulin (or a GLP-1 RA) and check for symptomatic "
            "hyperglycaemia or catabolism."
        )
    return Finding(
        rule_id="t2d-glycaemic-target",
        title="HbA1c above goal: intensify diabetes therapy",
        action=action,
        category="diabetes",
        urgency=Urgency.SOON if hba1c.value >= 10 else Urgency.ROUTINE,
        strength="strong" if target == 7.0 else "moderate",
        evidence="Grade A (goal < 7 %)" if target == 7.0 else "Grade B (less stringent goal < 8 %)",
        source=SOURCE_GOALS,
        reasons=(
            obs_reason(hba1c, "HbA1c", f"goal < {number(target)} %"),
            condition_reason(t2d, "Type 2 diabetes"),
            *relaxed,
        ),
        details={"hba1c": hba1c.value, "target": target},
    )


# --- HbA1c monitoring ----------------------------------------------------------------------------


def hba1c_monitoring(facts: PatientFacts) -> Finding | None:
    t2d = _type2(facts)
    if t2d is None or facts.obs(HBA1C, LAB_MAX_AGE) is not None:
        return None
    last = facts.obs(HBA1C)
    reasons = [condition_reason(t2d, "Type 2 diabetes")]
    if last is None:
        reasons.append(Reason("No HbA1c recorded", code=HBA1C))
    else:
        reasons.append(obs_reason(last, "Latest HbA1c", "more than a year ago"))
    return Finding(
        rule_id="t2d-hba1c-monitoring",
        title="Measure HbA1c",
        action=(
            "Measure HbA1c: at least twice a year when at goal, quarterly after a therapy change "
            "or when not at goal."
        ),
        category="diabetes",
        urgency=Urgency.ROUTINE,
        strength="weak",
        evidence="Grade E (expert consensus)",
        source=SOURCE_GOALS,
        reasons=tuple(reasons),
        suggestions=(Suggestion("HbA1c", kind="order", system="http://loinc.org", code=HBA1C),),
    )


# --- unconfirmed hyperglycaemia ------------------------------------------------------------------


def hyperglycaemia_confirm(facts: PatientFacts) -> Finding | None:
    if facts.condition(*DIABETES, *GESTATIONAL_DIABETES) is not None:
        return None
    abnormal: list[Reason] = []
    hba1c = facts.obs(HBA1C, LAB_MAX_AGE)
    if hba1c is not None and hba1c.value >= 6.5:
        abnormal.append(obs_reason(hba1c, "HbA1c", "diabetes range ≥ 6.5 %"))
    fasting = facts.obs(FASTING_GLUCOSE, LAB_MAX_AGE)
    glucose = facts.obs(GLUCOSE, LAB_MAX_AGE)
    if fasting is not None and fasting.value >= 126:
        abnormal.append(obs_reason(fasting, "Fasting plasma glucose", "diabetes range ≥ 126 mg/dL"))
    elif glucose is not None and glucose.value >= 126:
        abnormal.append(
            obs_reason(
                glucose,
                "Plasma glucose",
                "≥ 126 mg/dL; fasting state not recorded, diabetes range if fasting",
            )
        )
    if not abnormal:
        return None
    if len(abnormal) >= 2:
        title = "Diabetes criteria met: record the diagnosis"
        action = (
            "Two different tests are in the diabetes range, which confirms the diagnosis by ADA "
            "criteria (if the glucose was fasting): classify the type, record it and start "
            "diabetes care."
        )
    else:
        title = "Hyperglycaemia without a diabetes diagnosis: confirm"
        action = (
            "A result is in the diabetes range but no diabetes diagnosis is recorded: confirm with "
            "a repeat test (HbA1c or fasting plasma glucose) on a new sample; two abnormal results "
            "establish the diagnosis."
        )
    return Finding(
        rule_id="hyperglycaemia-confirm-diabetes",
        title=title,
        action=action,
        category="diabetes",
        urgency=Urgency.SOON,
        strength="strong",
        evidence="Grade B",
        source=SOURCE_DIAGNOSIS,
        reasons=tuple(abnormal),
        suggestions=(
            Suggestion("Repeat HbA1c", kind="order", system="http://loinc.org", code=HBA1C),
            Suggestion(
                "Fasting plasma glucose",
                kind="order",
                system="http://loinc.org",
                code=FASTING_GLUCOSE,
            ),
        ),
    )


# --- metformin -----------------------------------------------------------------------------------


def metformin_suppressions(facts: PatientFacts) -> list[Suppression]:
    out: list[Suppression] = []
    egfr = facts.obs(EGFR, LAB_MAX_AGE)
    if egfr is not None and egfr.value < 30:
        out.append(
            Suppression(
                "Metformin",
                f"eGFR {value_text(egfr)} on {day(egfr.at)}: contraindicated below 30 (FDA label)",
            )
        )
    elif egfr is not None and egfr.value < 45:
        out.append(
            Suppression(
                "Metformin",
                f"eGFR {value_text(egfr)} on {day(egfr.at)}: starting metformin at eGFR 30-44 is "
                "not recommended (FDA label)",
            )
        )
    allergy = allergy_suppression(facts, "Metformin", "A10BA", names=("metformin", "biguanide"))
    if allergy is not None:
        out.append(allergy)
    liver = facts.condition(*SEVERE_LIVER_DISEASE)
    if liver is not None:
        out.append(
            Suppression(
                "Metformin",
                f"severe hepatic disease recorded ({liver.code}): risk of lactic acidosis",
            )
        )
    return out


def metformin_first_line(facts: PatientFacts) -> Finding | None:
    t2d = _type2(facts)
    if t2d is None or facts.medication(METFORMIN, names=("metformin",)) is not None:
        return None
    suppressed = metformin_suppressions(facts)
    reasons = [
        condition_reason(t2d, "Type 2 diabetes"),
        Reason("Metformin is not among the active medications", code=METFORMIN),
    ]
    hba1c = facts.obs(HBA1C, LAB_MAX_AGE)
    if hba1c is not None:
        reasons.append(obs_reason(hba1c, "HbA1c"))
    egfr = facts.obs(EGFR, LAB_MAX_AGE)
    if egfr is not None:
        reasons.append(obs_reason(egfr, "eGFR"))
    if suppressed:
        action = (
            "Metformin, the usual first-line agent, is contraindicated for this patient (see "
            "suppressed options): choose glucose-lowering therapy by comorbidity instead (SGLT2 "
            "inhibitor, GLP-1 receptor agonist or others, dosed for kidney function)."
        )
        suggestions: tuple[Suggestion, ...] = ()
    else:
        action = (
            "Start metformin (titrate from 500 mg daily with meals) alongside lifestyle therapy, "
            "unless contraindicated; add agents with cardiorenal benefit where indicated."
        )
        if egfr is None:
            action += " No eGFR in the past year: check kidney function before starting."
        suggestions = (drug("Metformin", METFORMIN),)
    return Finding(
        rule_id="t2d-metformin-first-line",
        title="Start metformin",
        action=action,
        category="diabetes",
        urgency=Urgency.ROUTINE,
        strength="strong",
        evidence="Grade A",
        source=SOURCE_PHARMACOLOGY,
        reasons=tuple(reasons),
        suppressed=tuple(suppressed),
        suggestions=suggestions,
    )


# --- SGLT2 inhibitor or GLP-1 receptor agonist ---------------------------------------------------


def sglt2i_suppressions(facts: PatientFacts) -> list[Suppression]:
    option = "SGLT2 inhibitor"
    out: list[Suppression] = []
    egfr = facts.obs(EGFR, LAB_MAX_AGE)
    if egfr is not None and egfr.value < 20:
        out.append(
            Suppression(option, f"eGFR {value_text(egfr)} on {day(egfr.at)}: not started below 20")
        )
    allergy = allergy_suppression(facts, option, SGLT2I, names=SGLT2I_NAMES)
    if allergy is not None:
        out.append(allergy)
    type1 = facts.condition(*TYPE_1_DIABETES)
    if type1 is not None:
        out.append(
            Suppression(option, f"type 1 diabetes recorded ({type1.code}): ketoacidosis risk")
        )
    dka = facts.condition(*KETOACIDOSIS)
    if dka is not None:
        out.append(Suppression(option, f"history of diabetic ketoacidosis ({dka.code})"))
    return out


def glp1ra_suppressions(facts: PatientFacts) -> list[Suppression]:
    option = "GLP-1 receptor agonist"
    out: list[Suppression] = []
    thyroid = facts.condition(*THYROID_CARCINOMA)
    if thyroid is not None:
        out.append(
            Suppression(
                option,
                f"thyroid carcinoma recorded ({thyroid.code}): contraindicated with a personal "
                "history of medullary thyroid carcinoma (check the histology)",
            )
        )
    men2 = facts.condition(*MEN2)
    if men2 is not None:
        out.append(Suppression(option, f"multiple endocrine neoplasia type 2 ({men2.code})"))
    pancreatitis = facts.condition(*PANCREATITIS)
    if pancreatitis is not None:
        out.append(Suppression(option, f"history of pancreatitis ({pancreatitis.code})"))
    allergy = allergy_suppression(facts, option, GLP1RA, names=GLP1RA_NAMES)
    if allergy is not None:
        out.append(allergy)
    return out


_SGLT2I_DRUGS = (
    drug("Empagliflozin 10 mg daily", "A10BK03", "empagliflozin"),
    drug("Dapagliflozin 10 mg daily", "A10BK01", "dapagliflozin"),
)
_GLP1RA_DRUGS = (
    drug("Semaglutide (weekly injection)", "A10BJ06", "semaglutide"),
    drug("Dulaglutide (weekly injection)", "A10BJ05", "dulaglutide"),
    drug("Liraglutide (daily injection)", "A10BJ02", "liraglutide"),
)


def cardiorenal_protection(facts: PatientFacts) -> Finding | None:
    t2d = _type2(facts)
    if t2d is None:
        return None
    if facts.medication(SGLT2I, names=SGLT2I_NAMES) or facts.medication(
        GLP1RA, "A10BX16", names=GLP1RA_NAMES
    ):
        return None
    ascvd = ascvd_reasons(facts)
    heart_failure = facts.condition(*HEART_FAILURE)
    ckd = ckd_reasons(facts)
    if not (ascvd or heart_failure or ckd):
        return None
    reasons = [condition_reason(t2d, "Type 2 diabetes"), *ascvd, *ckd]
    if heart_failure is not None:
        reasons.append(condition_reason(heart_failure, "Heart failure"))
    sglt2i_off = sglt2i_suppressions(facts)
    glp1ra_off = glp1ra_suppressions(facts)
    sglt2i_preferred = heart_failure is not None or bool(ckd)
    if sglt2i_off and glp1ra_off:
        action = (
            "Cardiorenal protection is indicated, but both an SGLT2 inhibitor and a GLP-1 receptor "
            "agonist appear contraindicated (see suppressed options): review with the patient."
        )
    elif sglt2i_preferred and not sglt2i_off:
        action = (
            "Add an SGLT2 inhibitor with proven heart-failure and kidney benefit, independent of "
            "HbA1c and metformin use; a GLP-1 RA with proven cardiovascular benefit is the "
            "alternative or addition."
        )
    elif sglt2i_preferred:
        action = (
            "An SGLT2 inhibitor (preferred for heart failure and kidney disease) is "
            "contraindicated: add a GLP-1 receptor agonist with proven cardiovascular benefit."
        )
    else:
        action = (
            "Add a GLP-1 receptor agonist or an SGLT2 inhibitor with proven cardiovascular "
            "benefit, independent of HbA1c and metformin use."
        )
    if sglt2i_preferred:
        ordered = [(sglt2i_off, _SGLT2I_DRUGS), (glp1ra_off, _GLP1RA_DRUGS)]
    else:
        ordered = [(glp1ra_off, _GLP1RA_DRUGS), (sglt2i_off, _SGLT2I_DRUGS)]
    suggestions = tuple(s for off, drugs in ordered if not off for s in drugs)
    return Finding(
        rule_id="t2d-sglt2i-glp1ra-cardiorenal",
        title=(
            "Add an SGLT2 inhibitor (heart failure / kidney disease)"
            if sglt2i_preferred
            else "Add a GLP-1 RA or SGLT2 inhibitor (ASCVD)"
        ),
        action=action,
        category="diabetes",
        urgency=Urgency.ROUTINE,
        strength="strong",
        evidence="Grade A",
        source=SOURCE_CARDIORENAL,
        reasons=tuple(reasons),
        suppressed=(*sglt2i_off, *glp1ra_off),
        suggestions=suggestions,
        details={"preferred": "sglt2i" if sglt2i_preferred else "glp1ra_or_sglt2i"},
    )


register(
    Rule(
        id="t2d-glycaemic-target",
        title="Type 2 diabetes: HbA1c above the individualised goal",
        category="diabetes",
        source=SOURCE_GOALS,
        description=(
            "Type 2 diabetes with an HbA1c from the past year at or above < 7 % (< 8 % from age 75 "
            "or with limited life expectancy): intensify therapy."
        ),
        evaluate=glycaemic_target,
    )
)
register(
    Rule(
        id="t2d-hba1c-monitoring",
        title="Type 2 diabetes: HbA1c not measured in the past year",
        category="diabetes",
        source=SOURCE_GOALS,
        description="Type 2 diabetes without an HbA1c from the past year: measure it.",
        evaluate=hba1c_monitoring,
    )
)
register(
    Rule(
        id="hyperglycaemia-confirm-diabetes",
        title="Hyperglycaemia without a diabetes diagnosis",
        category="diabetes",
        source=SOURCE_DIAGNOSIS,
        description=(
            "HbA1c ≥ 6.5 % or plasma glucose ≥ 126 mg/dL in the past year and no diabetes "
            "diagnosis: confirm with a repeat test."
        ),
        evaluate=hyperglycaemia_confirm,
    )
)
register(
    Rule(
        id="t2d-metformin-first-line",
        title="Type 2 diabetes: metformin first line",
        category="diabetes",
        source=SOURCE_PHARMACOLOGY,
        description=(
            "Type 2 diabetes not on metformin: start it, unless eGFR < 45, allergy or hepatic "
            "failure (then suppressed with the reason)."
        ),
        evaluate=metformin_first_line,
    )
)
register(
    Rule(
        id="t2d-sglt2i-glp1ra-cardiorenal",
        title="Type 2 diabetes with ASCVD, heart failure or CKD: SGLT2 inhibitor or GLP-1 RA",
        category="diabetes",
        source=SOURCE_CARDIORENAL,
        description=(
            "Type 2 diabetes with established ASCVD, heart failure or CKD (N18 or eGFR < 60) on "
            "neither class: add one (SGLT2 inhibitor preferred in heart failure and CKD)."
        ),
        evaluate=cardiorenal_protection,
    )
)
