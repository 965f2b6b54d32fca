"""Population aggregates for the dashboards: each patient's latest assessment of a disease
counted in SQL by probability decile, age band or sex and risk band, from the snapshots."""

import pytest

from patients.models import Patient
from prediction.selectors import AGE_BANDS, population_risk_counts, population_size
from tests import factories
from tests.dashboards.test_population import assess, version_make

pytestmark = pytest.mark.django_db


def counted(rows: list[dict]) -> dict[tuple, int]:
    return {(r["group"], r["band"]): r["n"] for r in rows}


def test_latest_assessments_by_decile_age_and_sex(team):
    diabetes, stroke = version_make("diabetes"), version_make("stroke")
    a, b, c = (factories.patient_make(team=team) for _ in range(3))
    assess(diabetes, a, 0.95, "high", subject_age=29, subject_sex="female")
    assess(diabetes, a, 0.1, "low", subject_age=30, subject_sex="female")  # the latest
    assess(diabetes, b, 1.0, "high", subject_age=90, subject_sex="male")
    assess(diabetes, c, 0.55, "high", subject_age=89, subject_sex="male")
    assess(stroke, c, 0.05, "low")  # another disease

    deciles = population_risk_counts(disease="diabetes", by="histogram")
    assert counted(deciles) == {(1, "low"): 1, (9, "high"): 1, (5, "high"): 1}
    assert {r["version_id"] for r in deciles} == {diabetes.pk}
    ages = counted(population_risk_counts(disease="diabetes", by="age"))
    assert ages == {("30-39", "low"): 1, ("90+", "high"): 1, ("80-89", "high"): 1}
    sexes = counted(population_risk_counts(disease="diabetes", by="sex"))
    assert sexes == {("female", "low"): 1, ("male", "high"): 2}
    # The bands cover every age from 0 to the cap, without gaps or overlaps.
    assert [low for _, low, _ in AGE_BANDS[1:]] == [high + 1 for _, _, high in AGE_BANDS[:-1]]
    assert AGE_BANDS[0][1] == 0 and AGE_BANDS[-1][2] == 90


def test_counts_keep_to_the_patients_given(team):
    diabetes = version_make("diabetes")
    mine = factories.patient_make(team=team)
    other = factories.patient_make(team=factories.care_team_make())
    assess(diabetes, mine, 0.3, "moderate")
    assess(diabetes, other, 0.3, "moderate")
    only_mine = Patient.objects.filter(pk=mine.pk)
    rows = population_risk_counts(disease="diabetes", by="sex", patients=only_mine)
    assert sum(r["n"] for r in rows) == 1
    assert sum(r["n"] for r in population_risk_counts(disease="diabetes", by="sex")) == 2
    assert population_size(patients=only_mine) == 1 and population_size() == 2


def test_an_unknown_grouping_is_refused():
    with pytest.raises(ValueError, match="grouping"):
        population_risk_counts(disease="diabetes", by="postcode")
