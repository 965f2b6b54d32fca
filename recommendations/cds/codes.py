"""Code systems and the small mapping tables of the FHIR intake (recommendations.cds.fhir_facts).

Each table holds only what a rule reads: a code that is not here is not mapped loosely, it falls
back to its name (medications, allergies) or stays out of the facts (conditions).
"""

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
ATC = "http://www.whocc.no/atc"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"

BP_PANELS = ("85354-9", "55284-4")
SMOKING_STATUS = "72166-2"
# Physical Activity IG: total moderate-to-vigorous minutes per week.
ACTIVITY_MINUTES_WEEK = "82290-8"

# SNOMED CT answers of the smoking-status observation (US Core value set).
SMOKING_SNOMED: dict[str, str] = {
    "449868002": "current",  # current every day smoker
    "428041000124106": "current",  # current some day smoker
    "77176002": "current",  # smoker, current status unknown
    "428071000124103": "current",  # current heavy tobacco smoker
    "428061000124105": "current",  # current light tobacco smoker
    "8517006": "former",  # ex-smoker
    "266919005": "never",  # never smoked tobacco
    "266927001": "unknown",  # tobacco smoking consumption unknown
}

# SNOMED CT condition -> the ICD-10 code the rules look for (prefix match). Only conditions a rule
# reads are here; anything else stays out of the facts rather than being mapped loosely.
SNOMED_TO_ICD10: dict[str, tuple[str, str]] = {
    "44054006": ("E11", "Type 2 diabetes mellitus"),
    "46635009": ("E10", "Type 1 diabetes mellitus"),
    "15777000": ("R73.03", "Prediabetes"),
    "11687002": ("O24.4", "Gestational diabetes"),
    "38341003": ("I10", "Hypertension"),
    "59621000": ("I10", "Essential hypertension"),
    "49436004": ("I48", "Atrial fibrillation"),
    "84114007": ("I50", "Heart failure"),
    "22298006": ("I21", "Myocardial infarction"),
    "399211009": ("I25.2", "History of myocardial infarction"),
    "53741008": ("I25.1", "Coronary arteriosclerosis"),
    "414545008": ("I25", "Ischaemic heart disease"),
    "194828000": ("I20.9", "Angina"),
    "230690007": ("I63", "Stroke"),
    "422504002": ("I63", "Ischaemic stroke"),
    "266257000": ("G45.9", "Transient ischaemic attack"),
    "399957001": ("I73.9", "Peripheral arterial occlusive disease"),
    "400047006": ("I73.9", "Peripheral vascular disease"),
    "709044004": ("N18", "Chronic kidney disease"),
    "431855005": ("N18.1", "Chronic kidney disease stage 1"),
    "431856006": ("N18.2", "Chronic kidney disease stage 2"),
    "433144002": ("N18.3", "Chronic kidney disease stage 3"),
    "431857002": ("N18.4", "Chronic kidney disease stage 4"),
    "433146000": ("N18.5", "Chronic kidney disease stage 5"),
    "46177005": ("N18.6", "End-stage renal disease"),
    "254837009": ("C50", "Malignant neoplasm of breast"),
    "55822004": ("E78.5", "Hyperlipidaemia"),
    "414916001": ("E66.9", "Obesity"),
    "19943007": ("K74.60", "Cirrhosis of liver"),
    "13645005": ("J44.9", "Chronic obstructive pulmonary disease"),
    "77386006": ("Z33.1", "Pregnancy"),
    "59282003": ("I26.9", "Pulmonary embolism"),
    "128053003": ("I82.4", "Deep venous thrombosis"),
    "75694006": ("K85.9", "Pancreatitis"),
    "90560007": ("M10.9", "Gout"),
}

# RxNorm ingredient (IN) -> (ATC, name) for the drugs the rules recommend or check. Clinical-drug
# codes (SCD/SBD) are not listed: they fall back to their name, which the rules also match.
RXNORM_TO_ATC: dict[str, tuple[str, str]] = {
    "6809": ("A10BA02", "metformin"),
    "1545653": ("A10BK03", "empagliflozin"),
    "1488564": ("A10BK01", "dapagliflozin"),
    "1373458": ("A10BK02", "canagliflozin"),
    "475968": ("A10BJ02", "liraglutide"),
    "1991302": ("A10BJ06", "semaglutide"),
    "1551291": ("A10BJ05", "dulaglutide"),
    "274783": ("A10AE04", "insulin glargine"),
    "83367": ("C10AA05", "atorvastatin"),
    "301542": ("C10AA07", "rosuvastatin"),
    "36567": ("C10AA01", "simvastatin"),
    "42463": ("C10AA03", "pravastatin"),
    "29046": ("C09AA03", "lisinopril"),
    "3827": ("C09AA02", "enalapril"),
    "35296": ("C09AA05", "ramipril"),
    "52175": ("C09CA01", "losartan"),
    "69749": ("C09CA03", "valsartan"),
    "17767": ("C08CA01", "amlodipine"),
    "5487": ("C03AA03", "hydrochlorothiazide"),
    "2409": ("C03BA04", "chlorthalidone"),
    "6918": ("C07AB02", "metoprolol"),
    "11289": ("B01AA03", "warfarin"),
    "1364430": ("B01AF02", "apixaban"),
    "1114195": ("B01AF01", "rivaroxaban"),
    "1037042": ("B01AE07", "dabigatran"),
    "1599538": ("B01AF03", "edoxaban"),
    "1191": ("B01AC06", "aspirin"),
    "32968": ("B01AC04", "clopidogrel"),
    "10324": ("L02BA01", "tamoxifen"),
    "72965": ("L02BG04", "letrozole"),
    "84857": ("L02BG03", "anastrozole"),
    "591622": ("N07BA03", "varenicline"),
    "7407": ("N07BA01", "nicotine"),
    "42347": ("N06AX12", "bupropion"),
}

# Unit spellings EHRs put in Quantity.unit when Quantity.code is missing: unambiguous only.
UNIT_ALIASES: dict[str, str] = {
    "mmHg": "mm[Hg]",
    "mm Hg": "mm[Hg]",
    "kg/m^2": "kg/m2",
    "kg/m²": "kg/m2",
    "mL/min/1.73m2": "mL/min/{1.73_m2}",
    "mL/min/1.73 m2": "mL/min/{1.73_m2}",
    "ml/min/1.73m2": "mL/min/{1.73_m2}",
    "mg/dl": "mg/dL",
    "mmol/l": "mmol/L",
    "lb": "[lb_av]",
    "lbs": "[lb_av]",
    "in": "[in_i]",
    "beats/min": "/min",
    "bpm": "/min",
    "degC": "Cel",
}
