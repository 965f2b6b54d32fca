"""Rows of an import file read into checked records or rejections, without a database: FHIR
resources and Bundles (streamed), CSV lines of the template, the upload's format by content, the
sealed files and the staging area's grouping."""

import datetime as dt
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from imaging.filecrypt import decrypt_chunks
from interop import resources as emitted
from interop.importing import files, records
from interop.importing.fhir import BundleError, bundle_records, entry_records
from interop.importing.records import EntryRow, PatientRow, Rejection, RowError, Skipped
from interop.importing.staging import Staging
from interop.importing.tabular import TEMPLATE_COLUMNS, csv_records, row_records

TODAY = dt.date(2025, 6, 1)
PATIENT_ID = "8c5b7c1e-0000-4000-8000-000000000001"
TEN_MB = "x" * (10 * 1024 * 1024)


def patient(**overrides: Any) -> dict[str, Any]:
    resource = {
        "resourceType": "Patient",
        "id": PATIENT_ID,
        "identifier": [{"system": emitted.MRN_SYSTEM, "value": "MRN-77"}],
        "name": [{"use": "official", "family": "Lovelace", "given": ["Ada", "King"]}],
        "gender": "female",
        "birthDate": "1961-12-10",
        "telecom": [{"system": "phone", "value": "+44 20 7946 0000"}],
        "address": [{"text": "12 St James's Square"}],
    }
    resource.update(overrides)
    return resource


def observation(**overrides: Any) -> dict[str, Any]:
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": emitted.LOINC, "code": "2345-7"}]},
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectiveDateTime": "2024-05-01T09:30:00+02:00",
        "valueQuantity": {"value": 5.5, "unit": "mmol/L", "system": emitted.UCUM},
    }
    resource.update(overrides)
    return resource


def only(items: list[Any], kind: type) -> Any:
    found = [i for i in items if isinstance(i, kind)]
    assert len(found) == 1, items
    return found[0]


def rejection_of(resource: dict[str, Any]) -> Rejection:
    items = entry_records({"resource": resource}, row=3, today=TODAY)
    return only(items, Rejection)


# --- Patient -------------------------------------------------------------------------------------


def test_a_patient_gives_its_fields_and_every_name_entries_may_use():
    items = entry_records(
        {"fullUrl": f"urn:uuid:{PATIENT_ID}", "resource": patient()}, row=1, today=TODAY
    )
    row = only(items, PatientRow)
    assert row.fields == {
        "mrn": "MRN-77",
        "family_name": "Lovelace",
        "given_name": "Ada King",
        "date_of_birth": dt.date(1961, 12, 10),
        "sex": "female",
        "phone": "+44 20 7946 0000",
        "email": "",
        "address": "12 St James's Square",
        "is_synthetic": False,
    }
    assert set(row.aliases) == {
        f"url:urn:uuid:{PATIENT_ID}",
        f"ref:Patient/{PATIENT_ID}",
        "mrn:mrn 77",
    }


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"identifier": []}, "identifier", "No MRN"),
        ({"birthDate": None}, "birthDate", "missing"),
        ({"birthDate": "1961"}, "birthDate", "full date"),
        ({"birthDate": "1961-02-30"}, "birthDate", "not a real date"),
        ({"birthDate": "2999-01-01"}, "birthDate", "future"),
        ({"gender": "f"}, "gender", "must be one of"),
        ({"name": [{"given": ["Ada"]}]}, "name.family", "missing"),
        ({"telecom": [{"system": "email", "value": "not-an-address"}]}, "telecom.email", "email"),
    ],
)
def test_a_patient_missing_or_wrong_in_a_field_is_rejected_naming_it(overrides, field, words):
    items = entry_records({"resource": patient(**overrides)}, row=2, today=TODAY)
    assert only(items, PatientRow).fields is None  # still named, so its entries go with it
    rejection = only(items, Rejection)
    assert rejection.field == field and words in rejection.reason
    assert rejection.row == 2 and rejection.resource == "Patient"


def test_a_10_mb_name_is_refused_by_its_length_and_only_its_start_is_quoted():
    items = entry_records(
        {"resource": patient(name=[{"family": TEN_MB, "given": ["Ada"]}])}, row=1, today=TODAY
    )
    rejection = only(items, Rejection)
    assert rejection.field == "name[0].family"
    assert "characters" in rejection.reason
    assert len(rejection.value) <= records.REPORT_VALUE_CHARS + 1


def test_a_name_longer_than_the_column_is_refused_naming_the_limit():
    rejection = rejection_of(patient(name=[{"family": "L" * 101, "given": ["Ada"]}]))
    assert rejection.field == "name.family" and "at most 100" in rejection.reason


# --- Observation ---------------------------------------------------------------------------------


def test_an_observation_is_converted_to_the_catalogs_unit():
    entry = only(entry_records({"resource": observation()}, row=4, today=TODAY), EntryRow)
    assert entry.kind == "observation" and entry.subject == f"ref:Patient/{PATIENT_ID}"
    assert entry.fields["unit"] == "mg/dL"
    assert entry.fields["value"] == pytest.approx(5.5 * 18.016)
    assert entry.fields["effective_at"] == dt.datetime(2024, 5, 1, 7, 30, tzinfo=dt.UTC)
    # Its key: the instant in UTC and the canonical value.
    assert entry.key == ("2345-7", "2024-05-01T07:30:00+00:00", entry.fields["value"])


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        (
            {"code": {"coding": [{"system": emitted.LOINC, "code": "99999-9"}]}},
            "code",
            "not one of",
        ),
        (
            {"code": {"coding": [{"system": "http://snomed.info/sct", "code": "1"}]}},
            "code",
            "LOINC",
        ),
        ({"valueQuantity": {"value": 5.5, "unit": "furlongs"}}, "valueQuantity.unit", "furlongs"),
        ({"valueQuantity": {"value": 5.5}}, "valueQuantity.unit", "missing"),
        ({"valueQuantity": {"value": 900, "unit": "mmol/L"}}, "valueQuantity.value", "plausible"),
        (
            {"valueQuantity": {"value": Decimal("1E+400"), "unit": "mmol/L"}},
            "valueQuantity.value",
            "finite",
        ),
        ({"valueQuantity": {"value": "5.5", "unit": "mmol/L"}}, "valueQuantity.value", "number"),
        ({"valueQuantity": {"value": True, "unit": "mmol/L"}}, "valueQuantity.value", "number"),
        ({"valueQuantity": None, "valueString": "high"}, "valueString", "valueQuantity"),
        ({"effectiveDateTime": None}, "effectiveDateTime", "missing"),
        ({"effectiveDateTime": "2024-05-01T09:30:00"}, "effectiveDateTime", "timezone"),
        ({"effectiveDateTime": "yesterday"}, "effectiveDateTime", "ISO 8601"),
        ({"status": "entered-in-error"}, "status", "not a result"),
        ({"subject": {"reference": "Group/7"}}, "subject.reference", "not to a Patient"),
        ({"subject": None}, "subject", "missing"),
    ],
)
def test_an_observation_wrong_in_a_field_is_rejected_naming_it(overrides, field, words):
    resource = {k: v for k, v in observation(**overrides).items() if v is not None}
    rejection = rejection_of(resource)
    assert rejection.field == field, rejection
    assert words in rejection.reason
    assert rejection.resource == "Observation" and rejection.row == 3


def test_a_date_without_time_is_midnight_utc():
    entry = only(
        entry_records(
            {"resource": observation(effectiveDateTime="2024-05-01")}, row=1, today=TODAY
        ),
        EntryRow,
    )
    assert entry.fields["effective_at"] == dt.datetime(2024, 5, 1, tzinfo=dt.UTC)


def test_a_blood_pressure_panel_gives_one_observation_per_component():
    panel = observation(
        code={"coding": [{"system": emitted.LOINC, "code": "85354-9"}]},
        valueQuantity=None,
        component=[
            {
                "code": {"coding": [{"system": emitted.LOINC, "code": code}]},
                "valueQuantity": {"value": value, "system": emitted.UCUM, "code": "mm[Hg]"},
            }
            for code, value in (("8480-6", 128), ("8462-4", 82))
        ],
    )
    del panel["valueQuantity"]
    entries = entry_records({"resource": panel}, row=1, today=TODAY)
    assert [(e.fields["code"], e.fields["value"]) for e in entries] == [
        ("8480-6", 128.0),
        ("8462-4", 82.0),
    ]


def test_an_mrn_identifier_names_the_subject():
    entry = only(
        entry_records(
            {
                "resource": observation(
                    subject={"identifier": {"system": emitted.MRN_SYSTEM, "value": "mrn-77"}}
                )
            },
            row=1,
            today=TODAY,
        ),
        EntryRow,
    )
    assert entry.subject == "mrn:mrn 77" and entry.subject_mrn == "mrn-77"


# --- other resources -----------------------------------------------------------------------------


def test_derived_results_are_skipped_and_other_types_rejected():
    for kind in ("RiskAssessment", "DiagnosticReport"):
        assert entry_records({"resource": {"resourceType": kind}}, row=5, today=TODAY) == [
            Skipped(5, kind)
        ]
    rejection = rejection_of({"resourceType": "Encounter", "id": "e1"})
    assert rejection.field == "resourceType" and "Encounter is not imported" in rejection.reason
    assert rejection_of({"id": "x"}).field == "resourceType"
    assert only(entry_records({"fullUrl": "x"}, row=1, today=TODAY), Rejection).field == "resource"
    assert only(entry_records("text", row=1, today=TODAY), Rejection).field == "entry"


def test_a_medication_statement_as_we_emit_it_reads_back():
    resource = {
        "resourceType": "MedicationStatement",
        "status": "stopped",
        "medicationCodeableConcept": {
            "text": "Metformin",
            "coding": [{"system": emitted.ATC, "code": "A10BA02", "display": "Metformin"}],
        },
        "subject": {"reference": f"Patient/{PATIENT_ID}"},
        "effectivePeriod": {"start": "2021-01-04", "end": "2022-02-01"},
        "dosage": [
            {
                "text": "500.000 mg twice daily intravenous",
                "route": {"text": "Intravenous"},
                "doseAndRate": [{"doseQuantity": {"value": 500.0, "unit": "mg"}}],
            }
        ],
    }
    entry = only(entry_records({"resource": resource}, row=1, today=TODAY), EntryRow)
    assert entry.fields == {
        "name": "Metformin",
        "code": "A10BA02",
        "dose": Decimal("500.000"),
        "dose_unit": "mg",
        "frequency": "twice daily",
        "route": "iv",
        "start_date": dt.date(2021, 1, 4),
        "end_date": dt.date(2022, 2, 1),
        "status": "stopped",
    }


def test_a_family_history_and_an_allergy_read_back():
    family = {
        "resourceType": "FamilyMemberHistory",
        "status": "completed",
        "patient": {"reference": f"Patient/{PATIENT_ID}"},
        "relationship": {"coding": [{"system": emitted.ROLE_CODE, "code": "FTH"}]},
        "condition": [
            {
                "code": {"text": "Type 2 diabetes", "coding": [{"code": "E11"}]},
                "onsetAge": {"value": 61, "unit": "a"},
            }
        ],
    }
    entry = only(entry_records({"resource": family}, row=1, today=TODAY), EntryRow)
    assert entry.fields == {
        "relation": "father",
        "condition_code": "E11",
        "condition_display": "Type 2 diabetes",
        "onset_age": 61,
    }
    allergy = {
        "resourceType": "AllergyIntolerance",
        "code": {"text": "Penicillin"},
        "patient": {"reference": f"Patient/{PATIENT_ID}"},
        "reaction": [{"severity": "severe", "manifestation": [{"text": "Not recorded"}]}],
    }
    entry = only(entry_records({"resource": allergy}, row=1, today=TODAY), EntryRow)
    assert entry.fields["reaction"] == "" and entry.fields["severity"] == "severe"


# --- the Bundle, streamed ------------------------------------------------------------------------


def bundle_bytes(entries: list[Any], **top: Any) -> bytes:
    body = {"resourceType": "Bundle", "type": "collection", **top, "entry": entries}
    return json.dumps(body, default=str).encode()


def test_a_bundle_is_read_entry_by_entry_whatever_the_order_of_its_keys():
    # "entry" before "resourceType" and "type": JSON does not order keys.
    data = json.dumps(
        {
            "entry": [{"resource": observation()}, {"resource": patient()}],
            "type": "searchset",
            "resourceType": "Bundle",
        },
        default=str,
    ).encode()
    items = list(bundle_records(io.BytesIO(data), today=TODAY))
    assert [type(i) for i in items] == [EntryRow, PatientRow]
    assert [i.row for i in items] == [1, 2]


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b'{"resourceType": "Patient", "id": "1"}', "not_a_bundle"),
        (b'{"resourceType": "Bundle", "type": "document", "entry": []}', "bundle_type"),
        (
            b'{"resourceType": "Bundle", "type": "collection", '
            b'"entry": [{"resource": {"v": NaN}}]}',
            "invalid_json",
        ),
        (
            b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": ',
            "invalid_json",
        ),
    ],
)
def test_a_file_that_is_not_an_accepted_bundle_raises_for_the_whole_file(data, code):
    with pytest.raises(BundleError) as caught:
        list(bundle_records(io.BytesIO(data), today=TODAY))
    assert caught.value.code == code


def test_a_json_error_names_no_text_of_the_file():
    data = bundle_bytes([{"resource": patient()}])[:-30] + b"Lovelace ]]]"
    with pytest.raises(BundleError) as caught:
        list(bundle_records(io.BytesIO(data), today=TODAY))
    assert "Lovelace" not in caught.value.message and "MRN" not in caught.value.message


# --- CSV -----------------------------------------------------------------------------------------


def line(**cells: str) -> list[str]:
    base = {
        "mrn": "MRN-9",
        "given_name": "Grace",
        "family_name": "Hopper",
        "birth_date": "1906-12-09",
        "sex": "female",
        "phone": "",
        "email": "",
        "address": "",
        "observation_code": "8480-6",
        "observation_value": "128",
        "observation_unit": "mmHg",
        "observation_time": "2024-05-01T09:30:00Z",
    }
    base.update(cells)
    return [base[c] for c in TEMPLATE_COLUMNS]


def test_a_csv_line_gives_its_patient_and_observation():
    patient_row, entry = row_records(line(), line=2, today=TODAY)
    assert isinstance(patient_row, PatientRow) and patient_row.aliases == ("mrn:mrn 9",)
    assert isinstance(entry, EntryRow) and entry.subject == "mrn:mrn 9"
    assert entry.fields["unit"] == "mm[Hg]" and entry.fields["value"] == 128.0


def test_a_patient_only_line_has_no_observation():
    items = row_records(
        line(observation_code="", observation_value="", observation_unit="", observation_time=""),
        line=2,
        today=TODAY,
    )
    assert [type(i) for i in items] == [PatientRow]


@pytest.mark.parametrize(
    ("cells", "field", "kinds"),
    [
        ({"observation_unit": ""}, "observation_unit", [PatientRow, Rejection]),
        ({"observation_value": "NaN"}, "observation_value", [PatientRow, Rejection]),
        ({"observation_value": "inf"}, "observation_value", [PatientRow, Rejection]),
        ({"observation_value": "=1+2"}, "observation_value", [PatientRow, Rejection]),
        ({"observation_unit": "kg"}, "observation_unit", [PatientRow, Rejection]),
        ({"observation_time": "2024-13-01"}, "observation_time", [PatientRow, Rejection]),
        ({"birth_date": "09/12/1906"}, "birth_date", [Rejection]),
        ({"mrn": ""}, "mrn", [Rejection]),
        ({"mrn": "--"}, "mrn", [Rejection]),
        ({"sex": "Female"}, "sex", [PatientRow, EntryRow]),  # case does not matter
        ({"sex": "woman"}, "sex", [Rejection]),
    ],
)
def test_a_wrong_csv_cell_is_rejected_naming_its_column(cells, field, kinds):
    items = row_records(line(**cells), line=7, today=TODAY)
    assert [type(i) for i in items] == kinds
    if Rejection in kinds:
        rejection = only(items, Rejection)
        assert rejection.field == field and rejection.row == 7


def test_a_csv_with_a_wrong_number_of_cells_or_header_is_refused():
    assert only(row_records(["a", "b"], line=3, today=TODAY), Rejection).reason.startswith(
        "the line has 2 columns"
    )
    with pytest.raises(RowError):
        list(csv_records(io.StringIO("mrn,name\n1,2\n"), today=TODAY))


def test_a_cell_past_csvs_field_limit_rejects_its_line_and_the_next_is_read():
    header = ",".join(TEMPLATE_COLUMNS)
    good = ",".join(line())
    text = f"{header}\n{','.join(line(given_name='x' * 200_000))}\n\n{good}\n"
    items = list(csv_records(io.StringIO(text), today=TODAY))
    assert isinstance(items[0], Rejection) and items[0].row == 2
    assert [type(i) for i in items[1:]] == [PatientRow, EntryRow]
    assert items[1].row == 4  # the blank line 3 is passed over


# --- the upload's format, sealed files -----------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "fmt_or_code"),
    [
        (b'\xef\xbb\xbf  {"resourceType": "Bundle"}', files.FORMAT_FHIR),
        ((",".join(TEMPLATE_COLUMNS) + "\r\n").encode(), files.FORMAT_CSV),
        (('"' + '","'.join(TEMPLATE_COLUMNS) + '"\n').encode(), files.FORMAT_CSV),
        (b"[1, 2]", "not_a_bundle"),
        (b'{"resourceType": "Patient", "id": "1"}', "not_a_bundle"),
        (b'{"resourceType": "Bundle", "type": "document"}', "bundle_type"),
        (b'{"resourceType": "Bundle", "type": "collection", "entry": [', "invalid_json"),
        (b'{"resourceType": "Bundle", "entry": [{"x": NaN}]}', "invalid_json"),
        (b'{"resourceType": "Bundle", "entry": [{"x": "' + b"a" * 70_000, files.FORMAT_FHIR),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "unknown_format"),
        (b"\xff\xfe\xfa not utf-8", "unknown_format"),
        (b"name,dob\nAda,1961", "csv_header"),
        (b"   \n", "empty_file"),
    ],
)
def test_the_format_is_decided_by_content(head, fmt_or_code):
    try:
        assert files._sniff(head) == fmt_or_code
    except files.ImportRefused as refused:
        assert refused.code == fmt_or_code


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 64 * 3])
def test_the_sealed_writer_writes_what_filecrypt_reads(tmp_path, size):
    key = files.file_keys()[0]
    data = bytes(range(256)) * (size // 256 + 1)
    data = data[:size]
    target = tmp_path / "sealed"
    writer = files.SealedWriter(target, key, chunk_bytes=64)
    for n in range(0, size, 10):
        writer.write(data[n : n + 10])
    writer.close()
    with target.open("rb") as sealed:
        assert b"".join(decrypt_chunks(sealed, [key])) == data
    assert not target.with_name("sealed.part").exists()


def test_staged_items_keep_their_types_through_the_staging_area(tmp_path: Path):
    staging = Staging(tmp_path)
    entry = only(entry_records({"resource": observation()}, row=2, today=TODAY), EntryRow)
    staging.add(
        only(
            entry_records({"fullUrl": "urn:uuid:p", "resource": patient()}, row=9, today=TODAY),
            PatientRow,
        )
    )
    staging.add(entry)
    staging.add(Skipped(3, "RiskAssessment"))
    staging.finish()
    (staged,) = list(staging.patients())
    assert staged.patient.fields is not None
    assert staged.patient.fields["date_of_birth"] == dt.date(1961, 12, 10)
    assert list(staging.entries_of(staged.ord)) == [entry]  # found by Patient/<id>
    assert staging.first_row("p", entry) is None and staging.first_row("p", entry) == 2
    assert staging.skipped == {"RiskAssessment": 1}
    # Nothing of the patient is readable in the staging database.
    raw = (tmp_path / "staging.sqlite3").read_bytes()
    assert b"Lovelace" not in raw and b"MRN-77" not in raw
    staging.close()


def test_records_round_trip_through_bytes():
    item = only(entry_records({"resource": observation()}, row=2, today=TODAY), EntryRow)
    assert records.loads(records.dumps(item)) == item
