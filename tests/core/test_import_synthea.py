"""Importing Synthea CSV export folders: counts, re-imports, both column layouts, bad rows."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select

from panelmanager.core import models
from panelmanager.core.importers import ImportFileError, run_import
from panelmanager.core.importers.synthea import parse_synthea_folder, parse_timestamps, strip_synthea_digits
from panelmanager.core.stats import registry_stats

SMALL_COUNTS = {
    "patients": 27,
    "providers": 166,
    "locations": 63,
    "visits": 604,
    "observations": 990,
    "immunizations": 29,
    "procedures": 249,
    "conditions": 438,
    "medications": 663,
}
GENE = "261ad2a4-7c6f-da54-6a5b-3441beab9a6a"  # Gene733 Mann644, died as a toddler
MAYNARD = "3edac2e3-d223-6fae-d515-daf96ef6bc76"  # Maynard46 Mosciski958


def stats(registry) -> dict[str, int]:
    with registry.session() as session:
        return registry_stats(session)


def import_one(registry, folder: Path, **kwargs):
    [outcome] = run_import(registry, [folder], user="test", **kwargs)
    return outcome


def write_csv(folder: Path, name: str, header: list[str], rows: list[dict[str, str]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        for row in rows:
            writer.writerow({key: row.get(key, "") for key in header})
    return path


def patient_by_mrn(session, mrn: str) -> models.Patient:
    return session.scalars(select(models.Patient).where(models.Patient.mrn == mrn)).one()


# --------------------------------------------------------------------------- the shared small export


def test_small_export_loads_exact_counts(fresh_registry, synthea_small):
    outcome = import_one(fresh_registry, synthea_small)

    assert outcome.ok, outcome.error
    assert outcome.format == "synthea-csv"
    assert outcome.rejected == 0
    assert outcome.new == sum(SMALL_COUNTS.values())
    assert outcome.rows_read == sum(SMALL_COUNTS.values())
    counts = stats(fresh_registry)
    assert {name: counts[name] for name in SMALL_COUNTS} == SMALL_COUNTS
    assert counts["import_batches"] == 1


def test_reimporting_the_same_export_changes_nothing(fresh_registry, synthea_small):
    import_one(fresh_registry, synthea_small)
    before = stats(fresh_registry)

    again = import_one(fresh_registry, synthea_small)

    assert again.ok, again.error
    assert (again.new, again.updated) == (0, 0)
    assert again.unchanged == sum(SMALL_COUNTS.values())
    after = stats(fresh_registry)
    assert {k: v for k, v in after.items() if k != "import_batches"} == {
        k: v for k, v in before.items() if k != "import_batches"
    }


def test_a_newer_export_updates_one_patient_and_adds_one_visit(fresh_registry, synthea_small, tmp_path):
    import_one(fresh_registry, synthea_small)
    newer = tmp_path / "export-2"
    shutil.copytree(synthea_small, newer, copy_function=shutil.copyfile)
    patients = pd.read_csv(newer / "patients.csv", dtype=str, keep_default_na=False)
    patients.loc[patients["Id"] == MAYNARD, "ADDRESS"] = "12 New Road"
    patients.to_csv(newer / "patients.csv", index=False)
    with (newer / "encounters.csv").open("a", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerow(
            [
                "aaaaaaaa-0000-4000-8000-000000000001", "2024-02-01T09:00:00Z", "2024-02-01T09:15:00Z", MAYNARD,
                "e002090d-4e92-300e-b41e-7d1f21dee4c6", "2d85c411-b7bb-3133-8903-276c2e31f452",
                "42c4fca7-f8a9-3cd1-982a-dd9751bf3e2a", "ambulatory", "185345009", "Encounter for symptom",
                "77.49", "100.00", "0.00", "", "",
            ]
        )

    outcome = import_one(fresh_registry, newer)

    assert outcome.ok, outcome.error
    assert (outcome.new, outcome.updated) == (1, 1)
    assert outcome.tables["patients"] == {"new": 0, "updated": 1, "unchanged": 26}
    assert outcome.tables["visits"] == {"new": 1, "updated": 0, "unchanged": 604}
    counts = stats(fresh_registry)
    assert (counts["patients"], counts["visits"]) == (27, 605)
    with fresh_registry.session() as session:
        maynard = patient_by_mrn(session, MAYNARD)
        assert maynard.address1 == "12 New Road"
        assert maynard.first_name == "Maynard"  # the rest of the record is as before
        visits = session.scalar(select(func.count()).select_from(models.Visit).where(models.Visit.patient_id == maynard.id))
        assert visits == 3


def test_patients_match_the_csv_by_hand(fresh_registry, synthea_small):
    import_one(fresh_registry, synthea_small)

    with fresh_registry.session() as session:
        gene = patient_by_mrn(session, GENE)
        assert (gene.first_name, gene.last_name, gene.sex) == ("Gene", "Mann", "M")
        assert gene.dob == dt.date(1973, 10, 28)
        assert gene.deceased_date == dt.date(1976, 7, 25)
        assert gene.status == "deceased"
        assert (gene.address1, gene.city, gene.postal_code) == ("940 Daniel Union", "Orleans", "02653")
        assert gene.phone_home is None and gene.email is None
        assert [i.identifier for i in gene.identifiers] == [GENE]

        maynard = patient_by_mrn(session, MAYNARD)
        assert (maynard.first_name, maynard.last_name, maynard.dob) == ("Maynard", "Mosciski", dt.date(2014, 10, 6))
        assert maynard.status == "active" and maynard.deceased_date is None
        assert maynard.postal_code == "02155"  # the leading zero survives

        def count(model, patient):
            return session.scalar(select(func.count()).select_from(model).where(model.patient_id == patient.id))

        assert [count(models.Visit, gene), count(models.Observation, gene), count(models.Condition, gene)] == [6, 23, 3]
        assert [count(models.Visit, maynard), count(models.Observation, maynard)] == [2, 13]

        first = session.scalars(
            select(models.Visit).where(models.Visit.external_id == "57f2562b-445c-f11c-ba40-edc55af3c84f")
        ).one()
        assert first.patient_id == maynard.id
        assert first.start == dt.datetime(2023, 1, 27, 16, 17, 47)  # 2023-01-27T16:17:47Z, naive UTC
        assert first.end == dt.datetime(2023, 1, 27, 16, 32, 47)
        assert (first.visit_class, first.status, first.visit_type) == ("ambulatory", "completed", "Encounter for symptom")
        assert (first.reason_code, first.reason) == ("195662009", "Acute viral pharyngitis (disorder)")
        provider = session.get(models.Provider, first.provider_id)
        assert (provider.display_name, provider.first_name, provider.last_name) == ("Víctor Noriega", "Víctor", "Noriega")
        assert provider.specialty == "GENERAL PRACTICE"
        assert provider.can_hold_panel is None  # decided from the specialty, not by the import
        assert session.get(models.Location, first.location_id).name == "CAMBRIDGE HEALTH ALLIANCE"
        assert provider.location.name == "CAMBRIDGE HEALTH ALLIANCE"


def test_observation_values_codes_and_systems(fresh_registry, synthea_small):
    import_one(fresh_registry, synthea_small)

    with fresh_registry.session() as session:
        height = session.scalars(
            select(models.Observation).where(models.Observation.code == "8302-2").order_by(models.Observation.date)
        ).first()
        assert (height.code_system, height.category, height.unit) == ("LOINC", "vital-signs", "cm")
        assert height.value_num == pytest.approx(float(height.value))
        smoking = session.scalars(select(models.Observation).where(models.Observation.code == "72166-2")).first()
        assert smoking.value in ("Never smoker", "Former smoker") and smoking.value_num is None
        flu = session.scalars(select(models.Immunization).where(models.Immunization.cvx == "140")).all()
        assert flu and all(i.visit_id is not None for i in flu)
        assert set(session.scalars(select(models.Procedure.code_system).distinct())) == {"SNOMED"}
        assert set(session.scalars(select(models.Condition.code_system).distinct())) == {"SNOMED"}
        assert set(session.scalars(select(models.Medication.code_system).distinct())) == {"RxNorm"}
        resolved = session.scalars(
            select(models.Condition).where(models.Condition.code == "195662009").order_by(models.Condition.onset)
        ).first()
        assert isinstance(resolved.onset, dt.date)


# --------------------------------------------------------------------------- the newer Synthea layout


def newer_layout_folder(folder: Path) -> Path:
    """A small export in the current Synthea layout, columns shuffled, two optional files left out."""
    write_csv(
        folder,
        "organizations.csv",
        ["NAME", "Id", "ADDRESS", "CITY", "STATE", "ZIP", "LAT", "LON", "PHONE", "REVENUE", "UTILIZATION"],
        [{"Id": "org-1", "NAME": "RIVERSIDE FAMILY HEALTH", "ADDRESS": "1 River St", "CITY": "Lowell", "STATE": "MA",
          "ZIP": "01852", "PHONE": "978-555-0100"}],
    )
    write_csv(
        folder,
        "providers.csv",
        ["Id", "ORGANIZATION", "NAME", "GENDER", "SPECIALITY", "ADDRESS", "CITY", "STATE", "ZIP", "LAT", "LON",
         "ENCOUNTERS", "PROCEDURES"],
        [{"Id": "prov-1", "ORGANIZATION": "org-1", "NAME": "Mariana775 de la Cruz412", "GENDER": "F",
          "SPECIALITY": "FAMILY PRACTICE"}],
    )
    write_csv(
        folder,
        "patients.csv",
        ["LAST", "FIRST", "MIDDLE", "Id", "BIRTHDATE", "DEATHDATE", "SSN", "DRIVERS", "PASSPORT", "PREFIX", "SUFFIX",
         "MAIDEN", "MARITAL", "RACE", "ETHNICITY", "GENDER", "BIRTHPLACE", "ADDRESS", "CITY", "STATE", "COUNTY", "FIPS",
         "ZIP", "LAT", "LON", "HEALTHCARE_EXPENSES", "HEALTHCARE_COVERAGE", "INCOME"],
        [
            {"Id": "pat-1", "BIRTHDATE": "1961-03-02", "PREFIX": "Mrs.", "FIRST": "Antone63", "MIDDLE": "Lou12",
             "LAST": "Bahringer146", "SUFFIX": "PhD", "GENDER": "F", "ADDRESS": "5 Elm St, Apt 2", "CITY": "Lowell",
             "STATE": "Massachusetts", "FIPS": "25017", "ZIP": "01852", "INCOME": "61000"},
            {"Id": "pat-2", "BIRTHDATE": "1940-11-30", "DEATHDATE": "2021-06-01", "FIRST": "Rex7", "LAST": "Ward5",
             "GENDER": "M", "INCOME": "20000"},
        ],
    )
    write_csv(
        folder,
        "encounters.csv",
        ["Id", "START", "STOP", "PATIENT", "ORGANIZATION", "PROVIDER", "PAYER", "ENCOUNTERCLASS", "CODE", "DESCRIPTION",
         "BASE_ENCOUNTER_COST", "TOTAL_CLAIM_COST", "PAYER_COVERAGE", "REASONCODE", "REASONDESCRIPTION", "EXTRA"],
        [
            {"Id": "enc-1", "START": "2023-03-01T14:00:00Z", "STOP": "2023-03-01T14:20:00Z", "PATIENT": "pat-1",
             "ORGANIZATION": "org-1", "PROVIDER": "prov-1", "ENCOUNTERCLASS": "wellness",
             "DESCRIPTION": "General examination of patient (procedure)", "EXTRA": "x"},
            {"Id": "enc-2", "START": "2023-04-01T08:00:00-04:00", "PATIENT": "pat-1", "PROVIDER": "prov-1",
             "ENCOUNTERCLASS": "home", "DESCRIPTION": "Home visit"},
            {"Id": "enc-3", "START": "2021-05-01T10:00:00Z", "PATIENT": "pat-2", "ENCOUNTERCLASS": "snf",
             "REASONCODE": "44054006", "REASONDESCRIPTION": "Diabetes mellitus type 2 (disorder)"},
        ],
    )
    write_csv(
        folder,
        "observations.csv",
        ["DATE", "PATIENT", "ENCOUNTER", "CATEGORY", "CODE", "DESCRIPTION", "VALUE", "UNITS", "TYPE"],
        [
            {"DATE": "2023-03-01T14:00:00Z", "PATIENT": "pat-1", "ENCOUNTER": "enc-1", "CATEGORY": "laboratory",
             "CODE": "4548-4", "DESCRIPTION": "Hemoglobin A1c/Hemoglobin.total in Blood", "VALUE": "7.9", "UNITS": "%",
             "TYPE": "numeric"},
            {"DATE": "2023-03-01T14:00:00Z", "PATIENT": "pat-1", "ENCOUNTER": "enc-1", "CATEGORY": "survey",
             "CODE": "72166-2", "DESCRIPTION": "Tobacco smoking status", "VALUE": "Never smoked tobacco (finding)",
             "TYPE": "text"},
            {"DATE": "2023-03-01T14:00:00Z", "PATIENT": "pat-1", "ENCOUNTER": "enc-1", "CATEGORY": "survey",
             "CODE": "93025-5", "DESCRIPTION": "Score", "VALUE": "3", "TYPE": "text"},
        ],
    )
    write_csv(
        folder,
        "procedures.csv",
        ["START", "STOP", "PATIENT", "ENCOUNTER", "SYSTEM", "CODE", "DESCRIPTION", "BASE_COST", "REASONCODE",
         "REASONDESCRIPTION"],
        [{"START": "2023-03-01T14:05:00Z", "STOP": "2023-03-01T14:45:00Z", "PATIENT": "pat-1", "ENCOUNTER": "enc-1",
          "SYSTEM": "SNOMED-CT", "CODE": "73761001", "DESCRIPTION": "Colonoscopy, screening"}],
    )
    write_csv(
        folder,
        "conditions.csv",
        ["START", "STOP", "PATIENT", "ENCOUNTER", "SYSTEM", "CODE", "DESCRIPTION"],
        [
            {"START": "2019-02-10", "PATIENT": "pat-1", "ENCOUNTER": "enc-1", "SYSTEM": "SNOMED-CT",
             "CODE": "44054006", "DESCRIPTION": "Diabetes mellitus type 2 (disorder)"},
            {"START": "2020-01-01", "STOP": "2020-02-01", "PATIENT": "pat-2", "ENCOUNTER": "enc-3",
             "SYSTEM": "http://hl7.org/fhir/sid/icd-10-cm", "CODE": "E11.9", "DESCRIPTION": "Type 2 diabetes"},
        ],
    )
    write_csv(folder, "claims.csv", ["Id", "PATIENTID"], [{"Id": "c-1", "PATIENTID": "pat-1"}])  # ignored
    return folder


def test_newer_layout_folder_imports(fresh_registry, tmp_path):
    folder = newer_layout_folder(tmp_path / "synthea-v3")

    outcome = import_one(fresh_registry, folder)

    assert outcome.ok, outcome.error
    assert outcome.rejected == 0
    counts = stats(fresh_registry)
    assert {k: counts[k] for k in ("patients", "providers", "locations", "visits", "observations", "immunizations",
                                   "procedures", "conditions", "medications")} == {
        "patients": 2, "providers": 1, "locations": 1, "visits": 3, "observations": 3, "immunizations": 0,
        "procedures": 1, "conditions": 2, "medications": 0,
    }
    with fresh_registry.session() as session:
        antone = patient_by_mrn(session, "pat-1")
        assert (antone.first_name, antone.middle_name, antone.last_name, antone.suffix) == ("Antone", "Lou", "Bahringer", "PhD")
        assert (antone.dob, antone.sex, antone.status) == (dt.date(1961, 3, 2), "F", "active")
        assert antone.address1 == "5 Elm St, Apt 2"
        rex = patient_by_mrn(session, "pat-2")
        assert (rex.status, rex.deceased_date) == ("deceased", dt.date(2021, 6, 1))

        visits = {v.external_id: v for v in session.scalars(select(models.Visit))}
        assert visits["enc-1"].visit_class == "wellness"
        assert visits["enc-2"].visit_class == "other"  # home
        assert visits["enc-2"].start == dt.datetime(2023, 4, 1, 12, 0)  # -04:00 offset, stored as UTC
        assert visits["enc-2"].end is None and visits["enc-2"].location_id is None
        assert visits["enc-3"].visit_class == "other"  # snf
        assert visits["enc-3"].provider_id is None
        assert visits["enc-3"].reason_code == "44054006"

        provider = session.scalars(select(models.Provider)).one()
        assert (provider.display_name, provider.first_name, provider.last_name) == (
            "Mariana de la Cruz", "Mariana", "de la Cruz")
        assert provider.location.name == "RIVERSIDE FAMILY HEALTH"

        observations = {o.code: o for o in session.scalars(select(models.Observation))}
        assert observations["4548-4"].value_num == pytest.approx(7.9)
        assert observations["4548-4"].category == "laboratory"
        assert observations["72166-2"].value_num is None
        assert observations["93025-5"].value == "3" and observations["93025-5"].value_num is None  # TYPE text

        procedure = session.scalars(select(models.Procedure)).one()
        assert (procedure.code_system, procedure.code) == ("SNOMED", "73761001")
        assert procedure.date == dt.datetime(2023, 3, 1, 14, 5)
        assert procedure.description == "Colonoscopy, screening"
        systems = dict(session.execute(select(models.Condition.code, models.Condition.code_system)).all())
        assert systems == {"44054006": "SNOMED", "E11.9": "ICD10CM"}

    again = import_one(fresh_registry, folder)
    assert (again.new, again.updated, again.unchanged) == (0, 0, outcome.new)


def test_old_and_new_layouts_of_the_same_record_hash_alike(tmp_path):
    old = write_csv(tmp_path / "old", "patients.csv", ["Id", "BIRTHDATE", "FIRST", "LAST", "GENDER"],
                    [{"Id": "p", "BIRTHDATE": "1990-01-01", "FIRST": "Ann1", "LAST": "Lee2", "GENDER": "F"}]).parent
    new = write_csv(tmp_path / "new", "patients.csv", ["GENDER", "LAST", "FIRST", "MIDDLE", "BIRTHDATE", "Id", "FIPS"],
                    [{"Id": "p", "BIRTHDATE": "1990-01-01", "FIRST": "Ann1", "LAST": "Lee2", "GENDER": "F"}]).parent

    a = parse_synthea_folder(old).frames["patients"].drop(columns=["_file"])
    b = parse_synthea_folder(new).frames["patients"].drop(columns=["_file"])

    pd.testing.assert_frame_equal(a, b, check_dtype=False)


# --------------------------------------------------------------------------- folders and rows that cannot be used


def test_patients_file_without_birthdate_is_refused_with_the_columns_found(fresh_registry, tmp_path):
    folder = tmp_path / "no-birthdate"
    write_csv(folder, "patients.csv", ["Id", "FIRST", "LAST", "GENDER"],
              [{"Id": "p1", "FIRST": "Ann", "LAST": "Lee", "GENDER": "F"}])

    with pytest.raises(ImportFileError) as raised:
        parse_synthea_folder(folder)
    message = str(raised.value)
    assert "patients.csv" in message and "BIRTHDATE" in message
    assert "Columns found: Id, FIRST, LAST, GENDER" in message

    outcome = import_one(fresh_registry, folder)
    assert not outcome.ok
    assert "patients.csv" in outcome.error and "BIRTHDATE" in outcome.error and "FIRST" in outcome.error
    assert stats(fresh_registry)["patients"] == 0


def test_optional_file_missing_its_columns_names_that_file(tmp_path):
    folder = tmp_path / "bad-encounters"
    write_csv(folder, "patients.csv", ["Id", "BIRTHDATE", "FIRST", "LAST", "GENDER"],
              [{"Id": "p1", "BIRTHDATE": "1990-01-01", "FIRST": "Ann", "LAST": "Lee", "GENDER": "F"}])
    write_csv(folder, "encounters.csv", ["Id", "BEGIN", "PATIENT"], [{"Id": "e1", "BEGIN": "2020-01-01", "PATIENT": "p1"}])

    with pytest.raises(ImportFileError, match=r"encounters\.csv.*START.*Columns found: Id, BEGIN, PATIENT"):
        parse_synthea_folder(folder)


def test_a_folder_with_only_patients_imports(fresh_registry, tmp_path):
    folder = tmp_path / "patients-only"
    write_csv(folder, "patients.csv", ["Id", "BIRTHDATE", "FIRST", "LAST", "GENDER"],
              [{"Id": "p1", "BIRTHDATE": "1990-01-01", "FIRST": "Ann", "LAST": "Lee", "GENDER": "F"}])
    (folder / "observations.csv").write_text("")  # an empty optional file counts as absent

    outcome = import_one(fresh_registry, folder)

    assert outcome.ok, outcome.error
    assert stats(fresh_registry)["patients"] == 1


def test_bad_rows_are_rejected_with_row_and_reason_and_the_rest_imports(fresh_registry, tmp_path):
    folder = tmp_path / "bad-rows"
    write_csv(
        folder,
        "patients.csv",
        ["Id", "BIRTHDATE", "DEATHDATE", "FIRST", "LAST", "GENDER"],
        [
            {"Id": "p1", "BIRTHDATE": "1990-01-01", "FIRST": "Ann", "LAST": "Lee", "GENDER": "F"},
            {"Id": "p2", "BIRTHDATE": "1990-13-45", "FIRST": "Bo", "LAST": "Ray", "GENDER": "M"},  # line 3
            {"Id": "", "BIRTHDATE": "1980-01-01", "FIRST": "No", "LAST": "Id", "GENDER": "M"},  # line 4
            {"Id": "p4", "BIRTHDATE": "1970-01-01", "DEATHDATE": "soon", "FIRST": "Cy", "LAST": "Day", "GENDER": "X"},
        ],
    )
    write_csv(
        folder,
        "encounters.csv",
        ["Id", "START", "STOP", "PATIENT", "ENCOUNTERCLASS"],
        [
            {"Id": "e1", "START": "2023-01-01T10:00:00Z", "PATIENT": "p1", "ENCOUNTERCLASS": "ambulatory"},
            {"Id": "e2", "START": "2023-01-02T10:00:00Z", "PATIENT": "", "ENCOUNTERCLASS": "ambulatory"},
            {"Id": "e3", "START": "yesterday", "PATIENT": "p1"},
            {"Id": "e4", "START": "2023-01-03T10:00:00Z", "PATIENT": "p2"},  # p2 was rejected above
        ],
    )
    with (folder / "encounters.csv").open("a", encoding="utf-8") as handle:
        handle.write("e6,2023-01-04T10:00:00Z,,p1,ambulatory,surplus\n")  # line 6: one field too many
        handle.write("e7,2023-01-05T10:00:00Z,,p1,wellness\n")

    outcome = import_one(fresh_registry, folder)

    assert outcome.ok, outcome.error
    reasons = {(Path(r.file_name).name, r.source_row): r.reason for r in outcome.rejections}
    assert set(reasons) == {
        ("patients.csv", 3), ("patients.csv", 4), ("patients.csv", 5),
        ("encounters.csv", 3), ("encounters.csv", 4), ("encounters.csv", 5), ("encounters.csv", 6),
    }
    assert "BIRTHDATE '1990-13-45'" in reasons[("patients.csv", 3)]
    assert "Id is empty" in reasons[("patients.csv", 4)]
    assert "DEATHDATE 'soon'" in reasons[("patients.csv", 5)]
    assert "PATIENT is empty" in reasons[("encounters.csv", 3)]
    assert "START 'yesterday'" in reasons[("encounters.csv", 4)]
    assert "patient 'p2'" in reasons[("encounters.csv", 5)]
    assert "fields" in reasons[("encounters.csv", 6)]
    by_row = {(Path(r.file_name).name, r.source_row): r.raw for r in outcome.rejections}
    assert by_row[("patients.csv", 3)]["BIRTHDATE"] == "1990-13-45"
    assert by_row[("encounters.csv", 5)]["PATIENT"] == "p2"  # rejected by the writer, input kept
    assert by_row[("encounters.csv", 6)]["line"].endswith(",surplus")
    # Kept in the import history, never written beside the imported folder unless asked.
    assert outcome.rejects_csv is None and not list(folder.rglob("*.rejects.csv"))

    counts = stats(fresh_registry)
    assert (counts["patients"], counts["visits"], counts["rejected_rows"]) == (1, 2, 7)
    with fresh_registry.session() as session:
        starts = sorted(session.scalars(select(models.Visit.start)))
        assert starts == [dt.datetime(2023, 1, 1, 10), dt.datetime(2023, 1, 5, 10)]  # e7 kept after the bad line


# --------------------------------------------------------------------------- helpers


def test_strip_synthea_digits():
    names = pd.Series(["Antone63", "Ludivina884 Steuber698", "O'Keefe12", "de la Cruz412", "Plain", None, "123"])
    assert strip_synthea_digits(names).tolist()[:5] == ["Antone", "Ludivina Steuber", "O'Keefe", "de la Cruz", "Plain"]
    assert pd.isna(strip_synthea_digits(names)[5])
    assert strip_synthea_digits(names)[6] == "123"


def test_parse_timestamps_gives_naive_utc():
    parsed = parse_timestamps(
        pd.Series(["2023-01-27T16:17:47Z", "2023-01-27", "2023-01-27T18:17:47+02:00", None, "garbage"], dtype=object)
    )
    assert parsed[:3].tolist() == [pd.Timestamp("2023-01-27 16:17:47"), pd.Timestamp("2023-01-27"),
                                   pd.Timestamp("2023-01-27 16:17:47")]
    assert parsed[3:].isna().all()
    assert parsed.dt.tz is None


def test_events_of_a_rejected_patient_name_the_patients_own_row(fresh_registry, tmp_path):
    folder = tmp_path / "rejected-patient"
    write_csv(
        folder,
        "patients.csv",
        ["Id", "BIRTHDATE", "FIRST", "LAST", "GENDER"],
        [
            {"Id": "p1", "BIRTHDATE": "1990-01-01", "FIRST": "Ann", "LAST": "Lee", "GENDER": "F"},
            {"Id": "p2", "BIRTHDATE": "1990-13-45", "FIRST": "Bo", "LAST": "Ray", "GENDER": "M"},  # line 3
        ],
    )
    write_csv(
        folder,
        "encounters.csv",
        ["Id", "START", "PATIENT", "ENCOUNTERCLASS"],
        [
            {"Id": "e1", "START": "2023-01-01T10:00:00Z", "PATIENT": "p1", "ENCOUNTERCLASS": "ambulatory"},
            {"Id": "e2", "START": "2023-01-02T10:00:00Z", "PATIENT": "p2", "ENCOUNTERCLASS": "ambulatory"},  # line 3
            {"Id": "e3", "START": "2023-01-03T10:00:00Z", "PATIENT": "p9", "ENCOUNTERCLASS": "ambulatory"},  # line 4
        ],
    )
    write_csv(
        folder,
        "observations.csv",
        ["DATE", "PATIENT", "ENCOUNTER", "CODE", "VALUE", "TYPE"],
        [
            {"DATE": "2023-01-02T10:00:00Z", "PATIENT": "p2", "ENCOUNTER": "e2", "CODE": "4548-4", "VALUE": "7.1",
             "TYPE": "numeric"},  # line 2
            {"DATE": "2023-01-01T10:00:00Z", "PATIENT": "p1", "ENCOUNTER": "e1", "CODE": "4548-4", "VALUE": "6.1",
             "TYPE": "numeric"},
        ],
    )

    outcome = import_one(fresh_registry, folder, write_rejects=False)

    assert outcome.ok, outcome.error
    reasons = {(Path(r.file_name).name, r.source_row): r.reason for r in outcome.rejections}
    assert set(reasons) == {("patients.csv", 3), ("encounters.csv", 3), ("encounters.csv", 4), ("observations.csv", 2)}
    own = (
        "patient 'p2' was not imported because that patient's own row was rejected (patients.csv row 3: "
        "BIRTHDATE '1990-13-45' is not a date (expected e.g. 2023-01-27 or 2023-01-27T16:17:47Z)); "
        "correct patients.csv row 3 and import again"
    )
    assert reasons[("encounters.csv", 3)] == own
    assert reasons[("observations.csv", 2)] == own
    assert reasons[("encounters.csv", 4)] == "patient 'p9' is not in this file or the registry; import the patients first"
    counts = stats(fresh_registry)
    assert (counts["patients"], counts["visits"], counts["observations"]) == (1, 1, 1)


# --------------------------------------------------------------------------- files that are not what they seem

PATIENTS_HEADER = ["Id", "BIRTHDATE", "FIRST", "LAST", "GENDER"]


def test_a_windows_1252_byte_names_the_file_the_line_and_the_fix_and_imports_nothing(fresh_registry, tmp_path):
    folder = tmp_path / "edited-in-excel"
    write_csv(folder, "patients.csv", PATIENTS_HEADER,
              [{"Id": "p1", "BIRTHDATE": "1990-01-01", "FIRST": "Ann", "LAST": "Lee", "GENDER": "F"}])
    (folder / "encounters.csv").write_bytes(
        "Id,START,PATIENT,DESCRIPTION\ne1,2023-01-01T10:00:00Z,p1,Checkup\ne2,2023-01-02T10:00:00Z,p1,Caf\xe9 visit\n".encode("cp1252")
    )

    outcome = import_one(fresh_registry, folder)

    assert not outcome.ok
    assert outcome.error == (
        f"{folder / 'encounters.csv'}: line 3 is not UTF-8 text (byte 0xE9; an accented letter saved by Excel or another "
        "program as Windows-1252, for example). Synthea writes UTF-8: save it again as CSV UTF-8 (or export the folder "
        "again from Synthea) and import the folder again."
    )
    assert stats(fresh_registry)["patients"] == 0  # patients.csv was fine, but the folder is all or nothing


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("utf-16", "this file holds UTF-16 text, not UTF-8 CSV text; save it again as CSV UTF-8"),
        ("workbook", "this is an Excel workbook (or another packed file) with a .csv name, not CSV text"),
    ],
)
def test_a_patients_file_that_is_not_utf8_csv_text_is_refused_with_the_fix(fresh_registry, tmp_path, content, expected):
    folder = tmp_path / content
    folder.mkdir()
    text = "Id,BIRTHDATE,FIRST,LAST,GENDER\np1,1990-01-01,Ann,Lee,F\n"
    data = text.encode("utf-16") if content == "utf-16" else b"PK\x03\x04" + bytes(range(256))
    (folder / "patients.csv").write_bytes(data)

    outcome = import_one(fresh_registry, folder)

    assert not outcome.ok
    assert outcome.error.startswith(f"{folder / 'patients.csv'}: {expected}")
    assert stats(fresh_registry)["patients"] == 0


def test_a_date_with_an_impossible_year_is_rejected_as_not_a_date(fresh_registry, tmp_path):
    folder = tmp_path / "odd-years"
    write_csv(folder, "patients.csv", PATIENTS_HEADER, [
        {"Id": "p1", "BIRTHDATE": "1990-01-01", "FIRST": "Ann", "LAST": "Lee", "GENDER": "F"},
        {"Id": "p2", "BIRTHDATE": "0001-01-01", "FIRST": "Bo", "LAST": "Ray", "GENDER": "M"},  # line 3
        {"Id": "p3", "BIRTHDATE": "9999-12-31", "FIRST": "Cy", "LAST": "Day", "GENDER": "M"},  # line 4
    ])

    outcome = import_one(fresh_registry, folder, write_rejects=False)

    assert outcome.ok, outcome.error
    reasons = {r.source_row: r.reason for r in outcome.rejections}
    assert reasons == {
        3: "BIRTHDATE '0001-01-01' is not a date (expected e.g. 2023-01-27 or 2023-01-27T16:17:47Z)",
        4: "BIRTHDATE '9999-12-31' is not a date (expected e.g. 2023-01-27 or 2023-01-27T16:17:47Z)",
    }
    assert stats(fresh_registry)["patients"] == 1


def test_a_surplus_field_on_the_first_data_line_rejects_that_line_and_shifts_nothing(fresh_registry, tmp_path):
    folder = tmp_path / "surplus"
    folder.mkdir()
    (folder / "patients.csv").write_text(
        "Id,BIRTHDATE,FIRST,LAST,GENDER\n"
        "p1,1990-01-01,Ann,Lee,F,extra\n"  # line 2: pandas would read "p1" as a row label
        "p2,1980-05-06,Bo,Ray,M\n"
        "p3,1970-01-01,Cy,Day,M,extra\n",  # line 4
        encoding="utf-8",
    )

    outcome = import_one(fresh_registry, folder, write_rejects=False)

    assert outcome.ok, outcome.error
    assert [(r.source_row, r.reason) for r in outcome.rejections] == [
        (2, "the line has the wrong number of fields (expected 5 fields, saw 6); is there an unquoted comma?"),
        (4, "the line has the wrong number of fields (expected 5 fields, saw 6); is there an unquoted comma?"),
    ]
    with fresh_registry.session() as session:
        bo = patient_by_mrn(session, "p2")
        assert (bo.first_name, bo.last_name, bo.dob, bo.sex) == ("Bo", "Ray", dt.date(1980, 5, 6), "M")
    assert stats(fresh_registry)["patients"] == 1


@pytest.mark.parametrize("text", ['"Id,BIRTHDATE,FIRST,LAST,GENDER\n', 'Id,BIRTHDATE,FIRST,LAST,GENDER\np1,"1990-01-01,Ann,Lee,F\n'])
def test_a_quote_mark_without_its_partner_names_the_file_and_the_fix(fresh_registry, tmp_path, text):
    folder = tmp_path / "unclosed"
    folder.mkdir()
    (folder / "patients.csv").write_text(text, encoding="utf-8")

    outcome = import_one(fresh_registry, folder)

    assert not outcome.ok
    assert outcome.error.startswith(f"{folder / 'patients.csv'}: the file is not a readable CSV (")
    assert "A quote mark may be missing its partner; save it again as CSV UTF-8" in outcome.error


def test_an_event_file_read_in_parts_imports_what_a_whole_read_does(fresh_registry, synthea_small, tmp_path, monkeypatch):
    # Issue 16: event files go through the import one chunk at a time. The parts must give
    # the rows, keys, hashes, rejections (with their line numbers) and counts of one read:
    # a repeated event in a later part stays a second event, and a bad line, a bad date and
    # a blank line late in the file are found on their own lines.
    from panelmanager.core.db import open_registry
    from panelmanager.core.importers import synthea

    folder = tmp_path / "parts"
    shutil.copytree(synthea_small, folder, copy_function=shutil.copyfile)
    lines = (folder / "observations.csv").read_text(encoding="utf-8").splitlines()
    first = lines[1]
    lines[400:400] = [first.replace(first.split(",")[0], "not a date", 1)]  # line 401, in the third part
    lines[700:700] = [first + ",surplus", ""]  # lines 701-702: a field too many, then blank
    lines.append(first)  # the very first event again, in the last part
    (folder / "observations.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def imported(registry, chunk_rows: int):
        monkeypatch.setattr(synthea, "CHUNK_ROWS", chunk_rows)
        outcome = import_one(registry, folder)
        assert outcome.ok, outcome.error
        with registry.session() as session:
            rows = session.execute(
                select(models.Observation.natural_key, models.Observation.row_hash, models.Observation.code,
                       models.Observation.value, models.Observation.date)
            ).all()
        rejections = sorted((Path(r.file_name).name, r.source_row, r.reason) for r in outcome.rejections)
        return sorted(rows), rejections, (outcome.rows_read, outcome.new, outcome.rejected), outcome.tables

    whole = open_registry(tmp_path / "whole.sqlite3", create=True)
    try:
        expected = imported(whole, 250_000)
    finally:
        whole.close()
    in_parts = imported(fresh_registry, 150)

    assert in_parts == expected
    rows, rejections, _counts, tables = in_parts
    assert len(rows) == 991 and len({key for key, *_ in rows}) == 991  # the repeat is kept, under its own key
    assert [(name, row) for name, row, _ in rejections] == [("observations.csv", 401), ("observations.csv", 701)]
    assert tables["observations"]["new"] == 991
