"""Breast rules: malignancy-risk pathway, BRCA carriers, adjuvant endocrine therapy."""

import dataclasses
import datetime as dt

import pytest

from recommendations.engine.facts import BenefitEstimate, GeneticFact
from recommendations.engine.rules.breast import (
    breast_adjuvant_endocrine_therapy,
    breast_brca_genetics_referral,
    breast_mass_high_malignancy_risk,
    menopausal_status,
)
from recommendations.engine.types import Urgency
from tests.recommendations.rules.helpers import (
    ESTROGEN_RECEPTOR,
    PROGESTERONE_RECEPTOR,
    RECENT,
    TODAY,
    facts,
)


def suppressed(finding):
    return {s.option: s.reason for s in finding.suppressed}


def suggested(finding):
    return [s.code for s in finding.suggestions if s.kind == "medication"]


# --- breast-mass-high-malignancy-risk -------------------------------------------------------


def test_high_malignancy_risk_goes_to_the_two_week_pathway():
    finding = breast_mass_high_malignancy_risk(facts(sex="female", risks={"breast_cancer": 0.87}))
    assert finding is not None
    assert finding.rule_id == "breast-mass-high-malignancy-risk"
    assert finding.urgency == Urgency.URGENT and finding.strength == "strong"
    assert "core-needle biopsy" in finding.action and "2 weeks" in finding.action
    [reason] = finding.reasons
    assert "87%" in reason.text and "breast_cancer test" in reason.text
    assert str(RECENT) in reason.text and reason.at == RECENT and reason.value == "87%"
    assert finding.source.guideline.startswith("NICE guideline NG12")
    assert finding.source.year and finding.source.section
    assert [s.kind for s in finding.suggestions] == ["referral"]
    assert not finding.illustrative


def test_moderate_band_asks_for_specialist_review():
    finding = breast_mass_high_malignancy_risk(facts(sex="female", risks={"breast_cancer": 0.3}))
    assert finding is not None
    assert finding.urgency == Urgency.SOON and finding.strength == "weak"
    assert "specialist review" in finding.action


def test_high_band_label_counts_even_below_half():
    patient = facts(sex="female", risks={"breast_cancer": 0.45})
    risk = dataclasses.replace(patient.risks["breast_cancer"], band="high")
    patient = dataclasses.replace(patient, risks={"breast_cancer": risk})
    finding = breast_mass_high_malignancy_risk(patient)
    assert finding is not None and finding.urgency == Urgency.URGENT


def test_synthetic_risk_is_said_to_be_synthetic():
    patient = facts(sex="female", risks={"breast_cancer": 0.9})
    risk = dataclasses.replace(patient.risks["breast_cancer"], synthetic=True)
    finding = breast_mass_high_malignancy_risk(dataclasses.replace(patient, risks={"x": risk}))
    assert finding is None  # keyed by disease: a different key is not the breast model
    finding = breast_mass_high_malignancy_risk(
        dataclasses.replace(patient, risks={"breast_cancer": risk})
    )
    assert finding is not None and finding.illustrative
    assert "synthetic" in finding.reasons[0].text and "synthetic" in finding.action


@pytest.mark.parametrize(
    "patient",
    [
        facts(sex="female", risks={"breast_cancer": 0.1}),  # low band
        facts(sex="female"),  # no assessment
        facts(sex="female", risks={"breast_cancer": 0.9}, conditions=("C50.912",)),
        facts(sex="female", risks={"breast_cancer": 0.9}, conditions=("D05.10",)),
    ],
    ids=["low", "no-risk", "already-cancer", "in-situ"],
)
def test_malignancy_risk_does_not_fire(patient):
    assert breast_mass_high_malignancy_risk(patient) is None


def test_stale_assessment_does_not_fire():
    patient = facts(sex="female", risks={"breast_cancer": 0.9})
    old = dataclasses.replace(patient.risks["breast_cancer"], at=TODAY - dt.timedelta(days=400))
    assert (
        breast_mass_high_malignancy_risk(dataclasses.replace(patient, risks={"breast_cancer": old}))
        is None
    )


# --- breast-brca-genetics-referral ----------------------------------------------------------

BRCA1 = GeneticFact("BRCA1", "c.68_69delAG", "pathogenic")
BRCA2_LP = GeneticFact("BRCA2", "c.5946delT", "Likely pathogenic")


def test_brca_woman_gets_referral_and_mri():
    finding = breast_brca_genetics_referral(facts(age=32, sex="female", genetics=(BRCA1,)))
    assert finding is not None
    assert finding.rule_id == "breast-brca-genetics-referral"
    assert "annual MRI from age 25" in finding.action
    assert "BRCA1" in finding.title
    assert finding.reasons[0].code == "BRCA1" and finding.reasons[0].value == "c.68_69delAG"
    assert any(r.text == "Age 32 years" and r.at == TODAY for r in finding.reasons)
    assert {s.kind for s in finding.suggestions} == {"referral", "order"}
    assert finding.source.guideline.startswith("NCCN") and finding.source.section.startswith(
        "BRCA-A"
    )


def test_brca_young_woman_is_told_when_mri_starts():
    finding = breast_brca_genetics_referral(facts(age=21, sex="female", genetics=(BRCA2_LP,)))
    assert finding is not None and "MRI screening starts at 25" in finding.action


def test_brca_man_gets_counselling_without_the_mri_programme():
    finding = breast_brca_genetics_referral(facts(age=45, sex="male", genetics=(BRCA2_LP,)))
    assert finding is not None
    assert "applies to women" in finding.action and "prostate" in finding.action
    assert [s.kind for s in finding.suggestions] == ["referral"]


@pytest.mark.parametrize(
    "patient",
    [
        facts(sex="female", genetics=(GeneticFact("BRCA2", "c.123A>G", "uncertain"),)),
        facts(sex="female", genetics=(GeneticFact("CHEK2", "c.1100delC", "pathogenic"),)),
        facts(sex="female"),
        facts(sex="female", genetics=(BRCA1,), conditions=("C50.411",)),
    ],
    ids=["vus", "other-gene", "no-genetics", "has-breast-cancer"],
)
def test_brca_does_not_fire(patient):
    assert breast_brca_genetics_referral(patient) is None


# --- breast-adjuvant-endocrine-therapy ------------------------------------------------------

BENEFIT = BenefitEstimate(
    rfs_with=0.78,
    rfs_without=0.66,
    difference=0.12,
    ci_with=(0.72, 0.84),
    ci_without=(0.60, 0.72),
    ci_difference=(0.04, 0.20),
    horizon_years=5.0,
    model="gbsg2-benefit 1",
    cohort="GBSG2 trial, 686 patients",
)


def hr_positive(**kwargs):
    base = {
        "age": 62,
        "sex": "female",
        "conditions": ("C50.912",),
        "values": {ESTROGEN_RECEPTOR: 120, PROGESTERONE_RECEPTOR: 4},
    }
    base.update(kwargs)
    return facts(**base)


def test_postmenopausal_hr_positive_gets_endocrine_therapy_with_benefit():
    finding = breast_adjuvant_endocrine_therapy(hr_positive(benefit=BENEFIT))
    assert finding is not None
    assert finding.rule_id == "breast-adjuvant-endocrine-therapy"
    assert finding.benefit is BENEFIT
    assert finding.details["rfs_with"] == 0.78 and finding.details["rfs_without"] == 0.66
    assert finding.details["rfs_difference"] == 0.12
    assert finding.details["rfs_difference_ci"] == [0.04, 0.20]
    assert "78% with vs 66% without" in finding.details["benefit_summary"]
    assert suggested(finding) == ["L02BA01", "L02BG03", "L02BG04", "L02BG06"]
    assert "aromatase inhibitor" in finding.action
    er = next(r for r in finding.reasons if r.code == ESTROGEN_RECEPTOR)
    assert er.value == "120 fmol/mg" and er.at == RECENT and "positive" in er.text
    pr = next(r for r in finding.reasons if r.code == PROGESTERONE_RECEPTOR)
    assert "negative" in pr.text
    assert finding.details["menopausal_status"] == "postmenopausal"
    assert finding.source.year == 2019 and "Burstein" in finding.source.guideline


def test_fires_without_a_benefit_estimate():
    finding = breast_adjuvant_endocrine_therapy(hr_positive())
    assert finding is not None and finding.benefit is None
    assert "rfs_with" not in finding.details


def test_progesterone_receptor_alone_makes_it_positive():
    patient = hr_positive(values={ESTROGEN_RECEPTOR: 3, PROGESTERONE_RECEPTOR: 10})
    assert breast_adjuvant_endocrine_therapy(patient) is not None


@pytest.mark.parametrize(
    "patient",
    [
        hr_positive(values={ESTROGEN_RECEPTOR: 9, PROGESTERONE_RECEPTOR: 2}),  # HR-negative
        hr_positive(values={}),  # receptor status not recorded
        hr_positive(sex="male"),
        hr_positive(conditions=()),  # no breast cancer
        hr_positive(medications=(("Tamoxifen 20 mg", "L02BA01"),)),
        hr_positive(medications=(("Letrozole 2.5 mg", "L02BG04"),)),
        hr_positive(medications=(("anastrozole", ""),)),
    ],
    ids=["hr-negative", "no-receptors", "male", "no-cancer", "on-tamoxifen", "on-ai", "by-name"],
)
def test_endocrine_does_not_fire(patient):
    assert breast_adjuvant_endocrine_therapy(patient) is None


def test_premenopausal_without_ovarian_suppression_suppresses_aromatase_inhibitors():
    finding = breast_adjuvant_endocrine_therapy(hr_positive(age=42))
    assert finding is not None
    assert set(suppressed(finding)) == {"Anastrozole", "Letrozole", "Exemestane"}
    assert "premenopausal (age 42 (< 50)" in suppressed(finding)["Letrozole"]
    assert suggested(finding) == ["L02BA01"]
    assert any("Menopausal status: premenopausal" in r.text for r in finding.reasons)


def test_premenopausal_with_ovarian_suppression_may_take_an_aromatase_inhibitor():
    patient = hr_positive(age=42, medications=(("Goserelin 3.6 mg", "L02AE03"),))
    finding = breast_adjuvant_endocrine_therapy(patient)
    assert finding is not None and not finding.suppressed
    assert any(r.code == "L02AE03" for r in finding.reasons)


def test_recorded_menopause_counts_under_50():
    patient = hr_positive(age=47, conditions=("C50.912", "N95.1"))
    status, basis = menopausal_status(patient)
    assert status == "postmenopausal" and "N95.1" in basis
    finding = breast_adjuvant_endocrine_therapy(patient)
    assert finding is not None and not finding.suppressed


def test_unknown_age_leaves_menopausal_status_unknown():
    finding = breast_adjuvant_endocrine_therapy(hr_positive(age=None))
    assert finding is not None
    assert "unknown" in suppressed(finding)["Anastrozole"]


@pytest.mark.parametrize("code", ["I26.99", "I80.1", "I82.40", "C54.1", "Z33.1"])
def test_tamoxifen_contraindications(code):
    finding = breast_adjuvant_endocrine_therapy(hr_positive(conditions=("C50.912", code)))
    assert finding is not None
    assert code in suppressed(finding)["Tamoxifen"]
    assert "L02BA01" not in suggested(finding)


def test_premenopausal_with_thromboembolism_has_every_option_contraindicated():
    finding = breast_adjuvant_endocrine_therapy(
        hr_positive(age=40, conditions=("C50.912", "I26.9"))
    )
    assert finding is not None
    assert len(finding.suppressed) == 4
    assert "every option is contraindicated" in finding.action
    assert finding.strength == "strong" and finding.urgency == Urgency.SOON
    assert [s.kind for s in finding.suggestions] == ["referral"]


def test_allergy_suppresses_one_drug():
    finding = breast_adjuvant_endocrine_therapy(hr_positive(allergies=(("Letrozole", "L02BG04"),)))
    assert finding is not None
    assert set(suppressed(finding)) == {"Letrozole"}
    assert "allergy" in suppressed(finding)["Letrozole"]
