"""Import fidelity: what a real export holds is what the registry holds, and every row read is
accounted for (imported, rejected with its row and reason, an exact duplicate, or an open slot).

The fixtures in tests/data are small synthetic exports in the shape vendors write them:
an athenahealth Report Builder report in Windows-1252 and OpenEMR tables in UTF-8.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from panelmanager.core import models
from panelmanager.core.importers import ImportFileError, run_import
from panelmanager.core.importers import profiles as profiles_module
from panelmanager.core.importers.pm import _synthetic_visit_ids, parse_pm_file

DATA = Path(__file__).resolve().parents[1] / "data"
AS_OF = dt.date(2024, 6, 1)
ATHENA = DATA / "athena_appointments_cp1252.csv"
ATHENA_SHORT = DATA / "athena_short_cp1252.csv"
OE_PATIENTS = DATA / "openemr_patient_data.csv"
OE_CALENDAR = DATA / "openemr_calendar.csv"

# Every accented letter of Spanish, French, Portuguese and German names (all in Windows-1252).
SPANISH = "áéíóúüñÁÉÍÓÚÜÑ"
FRENCH = "àâæçéèêëîïôœùûüÿÀÂÆÇÉÈÊËÎÏÔŒÙÛÜŸ"
PORTUGUESE = "áâãàçéêíóôõúÁÂÃÀÇÉÊÍÓÔÕÚ"
GERMAN = "äöüßÄÖÜ"
WESTERN = "".join(dict.fromkeys(SPANISH + FRENCH + PORTUGUESE + GERMAN))
# Vietnamese: the letters with a breve, circumflex or horn, đ, and every tone on every vowel.
_VN_LOWER = (
    "ăâđêôơư"
    "àáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
)
VIETNAMESE = _VN_LOWER + _VN_LOWER.upper()


def parse(path: Path, **kwargs):
    kwargs.setdefault("as_of", AS_OF)
    return parse_pm_file(path, profile=kwargs.pop("profile", None), mapping=kwargs.pop("mapping", {}), **kwargs)


def column(parsed, frame: str, name: str) -> list:
    return [None if pd.isna(v) else v for v in parsed.frames[frame][name].tolist()]


def rejected(parsed) -> list[tuple[int, str]]:
    return [(r.source_row, r.reason) for r in parsed.rejected]


def _names_file(letters: str) -> str:
    """One patient per letter: a lower-case letter inside a name, a capital starting one."""
    lines = ["MRN,First Name,Last Name,DOB"]
    for number, letter in enumerate(letters, start=1):
        first = f"{letter}na" if letter.isupper() else f"Ma{letter}a"
        lines.append(f"{number},{first},Test{letter},01/02/1980")
    return "\n".join(lines) + "\n"


def _expected_first_names(letters: str) -> list[str]:
    return [f"{letter}na" if letter.isupper() else f"Ma{letter}a" for letter in letters]


# --------------------------------------------------------------------------- 1. encodings


def test_the_letter_lists_cover_what_the_test_claims():
    assert set("ñüéèçœãõßÿ") <= set(WESTERN)
    assert set("ăđơưễệặỹ") <= set(VIETNAMESE)
    assert len(VIETNAMESE) == 2 * 67
    WESTERN.encode("cp1252")  # every Western letter is one Windows-1252 byte


@pytest.mark.parametrize("encoding", ["cp1252", "utf-8", "utf-8-sig"])
def test_every_accented_western_letter_comes_out_as_written(tmp_path, encoding):
    path = tmp_path / "patients.csv"
    path.write_bytes(_names_file(WESTERN).encode(encoding))
    parsed = parse(path)
    assert column(parsed, "patients", "first_name") == _expected_first_names(WESTERN)
    assert column(parsed, "patients", "last_name") == [f"Test{letter}" for letter in WESTERN]
    assert parsed.encoding == ("Windows-1252" if encoding == "cp1252" else "UTF-8")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig"])
def test_every_vietnamese_letter_comes_out_as_written(tmp_path, encoding):
    path = tmp_path / "patients.csv"
    path.write_bytes(_names_file(VIETNAMESE).encode(encoding))
    parsed = parse(path)
    assert column(parsed, "patients", "first_name") == _expected_first_names(VIETNAMESE)
    assert column(parsed, "patients", "mrn")[0] == "1"  # the byte-order mark is not part of the header


def test_a_short_athena_report_in_windows_1252_is_not_read_as_a_baltic_code_page():
    # A statistical guess read this very file as Windows-1257: Raúl -> Raķl, María -> MarŪa.
    parsed = parse(ATHENA_SHORT)
    assert column(parsed, "patients", "first_name") == ["María", "François", "Noël"]
    assert column(parsed, "patients", "last_name") == ["Farías", "Gonçalves", "Dubois"]
    assert parsed.encoding == "Windows-1252"
    assert rejected(parsed)[0] == (6, "patientid is empty; every appointment needs a patient identifier")


_FIRST = ["Zoë", "María", "José", "Ann", "Raúl", "Chloé", "Jürgen", "Inês", "Noël", "François", "Begoña", "Jérôme"]
_LAST = ["Farías", "Smith", "Núñez", "Côté", "Müller", "Pérez", "Gonçalves", "Lefèvre", "Ibáñez", "Brown"]


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(_FIRST), st.sampled_from(_LAST), st.booleans()), min_size=1, max_size=12))
def test_any_windows_1252_report_keeps_its_names(tmp_path, people):
    lines = ["Report Name: Appointments", "patientid,patient firstname,patient lastname,patientdob,apptdate,apptstatus"]
    for number, (first, last, shout) in enumerate(people):
        if shout:  # Report Builder often writes names in capitals
            first, last = first.upper(), last.upper()
        lines.append(f"{100 + number},{first},{last},01/02/1980,05/06/2024,3")
    path = tmp_path / "report.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\nTotal Records: 1\r\n").encode("cp1252"))
    parsed = parse(path)
    assert column(parsed, "patients", "first_name") == [f for f, _l, _s in people]
    assert column(parsed, "patients", "last_name") == [ln for _f, ln, _s in people]


def test_the_encoding_option_wins_and_a_wrong_one_is_refused_clearly(tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes("MRN,First Name,Last Name,DOB\n1,Zoë,Núñez,01/02/1980\n".encode("mac-roman"))
    assert column(parse(path, encoding="mac-roman"), "patients", "first_name") == ["Zoë"]
    with pytest.raises(ImportFileError, match=r"--encoding: 'klingon' is not a text encoding"):
        parse(path, encoding="klingon")
    utf8 = tmp_path / "utf8.csv"
    utf8.write_bytes("MRN,First Name,Last Name,DOB\n1,Zoë,Núñez,01/02/1980\n".encode())
    # Forced to a single-byte code page, UTF-8 shows as such: the user asked for it.
    assert column(parse(utf8, encoding="cp1252"), "patients", "first_name") == ["ZoÃ«"]


def _profiles_with(tmp_path: Path, monkeypatch, text: str) -> None:
    folder = tmp_path / "profiles"
    shutil.copytree(profiles_module.profiles_dir(), folder)
    (folder / "macvendor.toml").write_text(text, encoding="utf-8")
    monkeypatch.setattr(profiles_module, "profiles_dir", lambda: folder)


def test_a_profile_declares_its_vendors_code_page_and_utf8_files_stay_utf8(tmp_path, monkeypatch):
    _profiles_with(tmp_path, monkeypatch, (
        'name = "macvendor"\nsource = "macvendor"\nbase = "generic"\nencoding = "mac-roman"\n'
        '[detect]\nheaders = ["mv chart", "mv birth"]\n[fields]\npatient_id = ["mv chart"]\ndob = ["mv birth"]\n'
        'last_name = ["mv last"]\nfirst_name = ["mv first"]\n'
    ))
    text = "mv chart,mv first,mv last,mv birth\n1,Zoë,Núñez,01/02/1980\n"
    single = tmp_path / "single.csv"
    single.write_bytes(text.encode("mac-roman"))
    parsed = parse(single)  # detected profile, its code page
    assert parsed.profile == "macvendor" and parsed.encoding == "Mac Roman"
    assert column(parsed, "patients", "first_name") == ["Zoë"]
    assert column(parse(single, profile="macvendor"), "patients", "last_name") == ["Núñez"]
    utf8 = tmp_path / "utf8.csv"
    utf8.write_bytes(text.encode("utf-8"))
    assert column(parse(utf8), "patients", "first_name") == ["Zoë"]


def test_a_profile_with_an_unknown_encoding_is_refused_naming_the_file_and_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('name = "bad"\nsource = "bad"\nencoding = "martian"\n[required]\npatients = ["mrn"]\n', encoding="utf-8")
    from panelmanager.core.resources import ResourceError

    with pytest.raises(ResourceError, match=r"bad.toml: encoding: 'martian' is not a text encoding"):
        profiles_module.load_profile_file(path)


def test_a_dry_run_shows_the_encoding_and_sample_names_accented_first(fresh_registry):
    (outcome,) = run_import(fresh_registry, [ATHENA], dry_run=True)
    assert outcome.ok and outcome.encoding == "Windows-1252"
    assert outcome.sample_names == ["María Farías", "Raúl Núñez", "François Gonçalves", "Inês Pereira", "Noël Dubois"]
    (imported,) = run_import(fresh_registry, [ATHENA])
    assert imported.sample_names == []  # only a preview shows names


# --------------------------------------------------------------------------- the athenahealth fixture


def test_the_athena_report_parses_to_exact_rows_names_and_reasons():
    parsed = parse(ATHENA)
    assert parsed.profile == "athenahealth" and parsed.encoding == "Windows-1252"
    assert parsed.rows_read == 12  # lines 3-14; title and the two footer lines are not data
    assert column(parsed, "patients", "external_id") == ["20002", "20003", "20004", "20006", "20007", "20001"]
    assert column(parsed, "patients", "first_name") == ["María", "Raúl", "François", "Inês", "Noël", "Zoë"]
    assert column(parsed, "patients", "last_name") == ["Farías", "Núñez", "Gonçalves", "Pereira", "Dubois", "Lefèvre"]
    assert column(parsed, "visits", "_row") == [3, 4, 5, 6, 7, 12, 13, 14]
    assert column(parsed, "visits", "status") == [
        "completed", "completed", "cancelled", "completed", "completed", "arrived", "no-show", "scheduled"
    ]
    # The cancelled appointment and its checked-out rebooking in one slot are both kept.
    slot = parsed.frames["visits"].query("patient_ref == '20003'")
    assert slot["status"].tolist() == ["cancelled", "completed"]
    assert slot["external_id"].nunique() == 2
    assert [(d.source_row, d.reason) for d in parsed.duplicates] == [(8, "exact duplicate of row 7")]
    assert parsed.skipped == 1  # the open slot on line 10
    assert rejected(parsed) == [
        (9, "patientid is empty; every appointment needs a patient identifier"),
        (11, "patientdob '02/30/1950' is not a date; expected MM/DD/YYYY (also M/D/YY, YYYY-MM-DD or YYYYMMDD)"),
    ]


def test_the_athena_report_imports_every_row_accounted_and_again_changes_nothing(fresh_registry):
    (outcome,) = run_import(fresh_registry, [ATHENA], write_rejects=False)
    assert outcome.ok, outcome.error
    assert (outcome.rows_read, outcome.imported, outcome.rows_rejected, outcome.duplicates, outcome.skipped) == (12, 8, 2, 1, 1)
    assert outcome.accounted
    assert outcome.rows_summary() == "rows read 12: imported 8, rejected 2, exact duplicates 1, open slots skipped 1"
    assert outcome.files == {str(ATHENA): {"read": 12, "imported": 8, "rejected": 2, "duplicates": 1, "skipped": 1}}
    assert {t: c["new"] for t, c in outcome.tables.items()} == {"providers": 2, "patients": 6, "visits": 8}
    with fresh_registry.session() as session:
        names = session.execute(select(models.Patient.first_name, models.Patient.last_name).order_by(models.Patient.mrn)).all()
        assert [tuple(n) for n in names] == [
            ("Zoë", "Lefèvre"), ("María", "Farías"), ("Raúl", "Núñez"), ("François", "Gonçalves"),
            ("Inês", "Pereira"), ("Noël", "Dubois"),
        ]
        statuses = session.execute(
            select(models.Visit.status).join(models.Patient, models.Visit.patient_id == models.Patient.id)
            .where(models.Patient.mrn == "20003").order_by(models.Visit.status)
        ).scalars().all()
        assert statuses == ["cancelled", "completed"]
    (again,) = run_import(fresh_registry, [ATHENA], write_rejects=False)
    assert {t: (c["new"], c["updated"]) for t, c in again.tables.items()} == {
        "providers": (0, 0), "patients": (0, 0), "visits": (0, 0)
    }
    assert again.accounted


# --------------------------------------------------------------------------- 2. appointments without an id


SLOT = """MRN,Appt Date,Appt Time,Provider,Visit Type,Status
1,05/06/2024,9:00 AM,Ann Lee MD,Office Visit,Checked Out
1,05/06/2024,9:00 AM,Ann Lee MD,Office Visit,Cancelled
1,05/06/2024,9:00 AM,Ann Lee MD,Office Visit,Checked Out
2,05/06/2024,9:30 AM,Ann Lee MD,Office Visit,Checked Out
"""


def test_a_checked_out_visit_and_its_cancelled_twin_are_both_kept_and_exact_copies_counted(tmp_path):
    path = tmp_path / "appts.csv"
    path.write_text(SLOT, encoding="utf-8")
    parsed = parse(path)
    assert column(parsed, "visits", "_row") == [2, 3, 5]
    assert column(parsed, "visits", "status") == ["completed", "cancelled", "completed"]
    assert [(d.source_row, d.reason) for d in parsed.duplicates] == [(4, "exact duplicate of row 2")]
    assert rejected(parsed) == []
    ids = column(parsed, "visits", "external_id")
    # The first appointment in a slot keeps the id earlier versions gave it: re-importing an
    # appointment file imported before this change adds nothing.
    legacy = _synthetic_visit_ids(pd.Series(["1"]), pd.Series([pd.Timestamp("2024-05-06 09:00")]), pd.Series(["ANN LEE MD"]))
    assert ids[0] == legacy.iloc[0] and ids[1] == legacy.iloc[0] + "-2"
    assert column(parse(path), "visits", "external_id") == ids


def test_rebooked_slots_survive_in_the_registry_and_a_reimport_changes_nothing(fresh_registry, tmp_path):
    patients = tmp_path / "patients.csv"
    patients.write_text("MRN,Last Name,First Name,DOB\n1,Lee,Ann,01/01/1980\n2,Kim,Ray,01/01/1990\n", encoding="utf-8")
    appts = tmp_path / "appts.csv"
    appts.write_text(SLOT, encoding="utf-8")
    run_import(fresh_registry, [patients])
    (outcome,) = run_import(fresh_registry, [appts], write_rejects=False)
    assert outcome.tables["visits"]["new"] == 3
    assert (outcome.rows_read, outcome.imported, outcome.rows_rejected, outcome.duplicates) == (4, 3, 0, 1)
    with fresh_registry.session() as session:
        assert sorted(session.execute(select(models.Visit.status)).scalars()) == ["cancelled", "completed", "completed"]
    (again,) = run_import(fresh_registry, [appts], write_rejects=False)
    assert (again.tables["visits"]["new"], again.tables["visits"]["updated"], again.tables["visits"]["unchanged"]) == (0, 0, 3)


# --------------------------------------------------------------------------- 3. rows that vanish


def test_an_appointment_row_without_a_patient_id_is_rejected_and_an_open_slot_skipped(tmp_path):
    text = (
        "MRN,Appt Date,Appt Time,Status\n"
        "1,05/06/2024,9:00 AM,Checked Out\n"
        ",05/06/2024,9:30 AM,Checked Out\n"
        ",05/06/2024,10:00 AM,Open\n"
        "2,05/06/2024,10:30 AM,Open\n"
    )
    path = tmp_path / "a.csv"
    path.write_text(text, encoding="utf-8")
    parsed = parse(path)
    assert column(parsed, "visits", "_row") == [2]
    assert rejected(parsed) == [(3, "MRN is empty; every appointment needs a patient identifier")]
    assert parsed.skipped == 2


def test_rows_read_always_equal_imported_rejected_duplicates_and_skipped(fresh_registry, tmp_path):
    run_import(fresh_registry, [OE_PATIENTS], write_rejects=False)
    for path in (ATHENA, ATHENA_SHORT, OE_PATIENTS, OE_CALENDAR):
        (outcome,) = run_import(fresh_registry, [path], dry_run=True)
        assert outcome.ok and outcome.accounted, (path.name, outcome.rows_summary())


# --------------------------------------------------------------------------- 4. one bad row, not a failed file


def test_an_mrn_reused_for_another_person_in_the_file_rejects_that_row(tmp_path):
    text = (
        "MRN,Last Name,First Name,DOB,Appt Date,Status\n"
        "M1,Garcia,Maria,04/12/1975,05/01/2024,Checked Out\n"
        "M1,Garcia,Maria,04/12/1975,05/08/2024,Checked Out\n"
        "M1,Okafor,Chidi,09/30/1988,05/09/2024,Checked Out\n"
        "M1,Garcia-Lee,Maria,04/12/1975,05/10/2024,Checked Out\n"
    )
    path = tmp_path / "a.csv"
    path.write_text(text, encoding="utf-8")
    parsed = parse(path)
    assert rejected(parsed) == [
        (4, "MRN 'M1' is given at row 2 to a different patient (other name and date of birth); one MRN cannot belong "
            "to two patients: correct the MRN of one of them in the PM system and export again")
    ]
    assert column(parsed, "patients", "last_name") == ["Garcia-Lee"]  # a new surname alone is the same person
    assert column(parsed, "visits", "_row") == [2, 3, 5]


def test_an_mrn_of_a_registry_patient_reused_for_someone_else_is_rejected_not_merged(fresh_registry, tmp_path):
    first = tmp_path / "first.csv"
    first.write_text("Patient ID,MRN,Last Name,First Name,DOB\n101,M1,Garcia,Maria,01/01/1980\n", encoding="utf-8")
    later = tmp_path / "later.csv"
    later.write_text(
        "Patient ID,MRN,Last Name,First Name,DOB,Appt Date,Status\n"
        "202,M1,Lee,Ann,02/02/1990,05/01/2024,Checked Out\n"
        "203,M3,Kim,Ray,02/02/1991,05/01/2024,Checked Out\n",
        encoding="utf-8",
    )
    run_import(fresh_registry, [first])
    (outcome,) = run_import(fresh_registry, [later], write_rejects=False)
    assert outcome.ok
    reasons = [(r.source_row, r.reason) for r in outcome.rejections]
    assert reasons[0] == (
        2, "MRN 'M1' already belongs to another patient in the registry (another name and date of birth); one MRN "
           "cannot belong to two patients: correct the MRN of this patient in the PM system and export again",
    )
    assert reasons[1][0] == 2 and "own row was rejected" in reasons[1][1]  # the appointment names the patient's row
    assert outcome.accounted and (outcome.imported, outcome.rows_rejected) == (1, 1)
    with fresh_registry.session() as session:
        kept = session.execute(select(models.Patient.first_name, models.Patient.last_name, models.Patient.dob)
                               .where(models.Patient.mrn == "M1")).one()
        assert tuple(kept) == ("Maria", "Garcia", dt.date(1980, 1, 1))


@pytest.mark.parametrize("column_name", ["Notes", "Last Name"])
def test_a_cell_over_the_csv_field_limit_rejects_its_row_not_the_file(fresh_registry, tmp_path, column_name):
    huge = "x" * 200_000
    header = "MRN,Last Name,First Name,DOB,Notes"
    cells = ["2", "Hill", "Al", "01/01/1971", "ok"]
    cells[header.split(",").index(column_name)] = f'"{huge}"'
    text = f"{header}\n1,Stone,Bo,01/01/1970,fine\n{','.join(cells)}\n3,Ray,Jo,01/01/1972,\n"
    path = tmp_path / "p.csv"
    path.write_text(text, encoding="utf-8")
    (outcome,) = run_import(fresh_registry, [path], write_rejects=False)
    assert outcome.ok, outcome.error
    assert [(r.source_row, r.reason) for r in outcome.rejections] == [
        (3, f"{column_name} holds 200,000 characters, more than a cell can hold (131,072); a quote mark is probably "
            "missing on this row: correct the row in the file (or the PM system) and import again")
    ]
    assert outcome.tables["patients"]["new"] == 2 and outcome.accounted


# --------------------------------------------------------------------------- OpenEMR fixtures


def test_openemr_patient_data_with_vietnamese_names_imports_exactly(fresh_registry):
    parsed = parse(OE_PATIENTS)
    assert parsed.profile == "openemr" and parsed.encoding == "UTF-8"
    assert column(parsed, "patients", "first_name") == ["Ánh", "Đức", "João", "Björn", "Hương"]
    assert column(parsed, "patients", "middle_name") == ["Ngọc", "Văn", None, None, "Thị"]
    assert column(parsed, "patients", "last_name") == ["Nguyễn", "Trần", "Gonçalves", "Weiß", "Phạm"]
    assert column(parsed, "patients", "status") == ["active", "active", "active", "deceased", "active"]
    assert rejected(parsed) == [(7, "DOB is empty; every patient needs a date of birth")]
    (outcome,) = run_import(fresh_registry, [OE_PATIENTS], write_rejects=False)
    assert (outcome.rows_read, outcome.imported, outcome.rows_rejected) == (6, 5, 1)
    assert outcome.tables["patients"]["new"] == 5


def test_openemr_calendar_counts_every_event(fresh_registry):
    run_import(fresh_registry, [OE_PATIENTS], write_rejects=False)
    (outcome,) = run_import(fresh_registry, [OE_CALENDAR], write_rejects=False)
    assert outcome.ok, outcome.error
    assert (outcome.rows_read, outcome.imported, outcome.rows_rejected, outcome.duplicates, outcome.skipped) == (10, 5, 3, 1, 1)
    assert outcome.tables["visits"]["new"] == 5
    assert [(r.source_row, r.reason.split(";")[0]) for r in outcome.rejections] == [
        (6, "pc_pid is empty"),
        (9, "patient '99' is not in this file or the registry"),
        (11, "patient '6' is not in this file or the registry"),
    ]
    assert [(d.source_row, d.reason) for d in outcome.duplicate_rows] == [(8, "exact duplicate of row 7")]
    with fresh_registry.session() as session:
        rows = session.execute(select(models.Visit.external_id, models.Visit.status).order_by(models.Visit.external_id)).all()
        assert [tuple(r) for r in rows] == [
            ("101", "completed"), ("102", "cancelled"), ("104", "no-show"), ("106", "arrived"), ("108", "scheduled")
        ]
    (again,) = run_import(fresh_registry, [OE_CALENDAR], write_rejects=False)
    assert (again.tables["visits"]["new"], again.tables["visits"]["updated"]) == (0, 0)


def test_a_known_patient_given_another_patients_mrn_is_rejected_not_a_failed_file(fresh_registry, tmp_path):
    first = tmp_path / "first.csv"
    first.write_text("Patient ID,MRN,Last Name,First Name,DOB\n101,M1,Garcia,Maria,01/01/1980\n102,M2,Lee,Ann,02/02/1990\n",
                     encoding="utf-8")
    later = tmp_path / "later.csv"
    later.write_text("Patient ID,MRN,Last Name,First Name,DOB\n103,M3,Kim,Ray,03/03/1970\n102,M1,Lee,Ann,02/02/1990\n",
                     encoding="utf-8")
    run_import(fresh_registry, [first])
    (outcome,) = run_import(fresh_registry, [later], write_rejects=False)
    assert outcome.ok, outcome.error
    assert [(r.source_row, r.reason) for r in outcome.rejections] == [
        (3, "MRN 'M1' is already the MRN of another patient in the registry; one MRN cannot belong to two patients: "
            "correct the MRN of this patient (or of the other one) in the PM system and export again")
    ]
    assert (outcome.imported, outcome.rows_rejected) == (1, 1) and outcome.accounted
    with fresh_registry.session() as session:
        assert sorted(session.execute(select(models.Patient.mrn, models.Patient.last_name)).all()) == [
            ("M1", "Garcia"), ("M2", "Lee"), ("M3", "Kim")
        ]


WEIRD = ["", " ", "0", "nan", "NULL", "N/A", "99999999999999999999999", "1e308", "😀", "Zoë", "=1+1", '"', "13/45/2024",
         "02/29/2023", "00/00/0000", "1/1/1", "12/31/9999", "01/01/1800", "25:61", "x", "o", "f", "a" * 300, "Ｚｏｅ", "#", ","]


def test_odd_cells_in_any_column_never_fail_a_file_and_every_row_is_accounted_for(fresh_registry, tmp_path):
    import csv
    import io
    import random

    rng = random.Random(3)
    header = ["patientid", "patient firstname", "patient lastname", "patientdob", "patientsex", "patient zip",
              "apptdate", "apptstarttime", "appttype", "apptstatus", "apptcancelleddate", "appt schdlng prvdr", "patient mrn"]
    for attempt in range(30):
        rows = []
        for _ in range(rng.randint(1, 8)):
            row = [str(100 + rng.randint(0, 5)), "Ann", "Lee", "01/02/1980", "F", "", "05/06/2024", "9:00 AM", "OFFICE",
                   "3", "", "DOC", f"M{rng.randint(0, 3)}"]
            for _ in range(rng.randint(1, 3)):
                row[rng.randrange(len(row))] = rng.choice(WEIRD)
            rows.append(row)
        buffer = io.StringIO()
        csv.writer(buffer).writerows([header, *rows])
        path = tmp_path / f"odd{attempt}.csv"
        path.write_text("Report Name: Odd cells\n" + buffer.getvalue(), encoding="utf-8")
        for dry_run in (True, False):
            (outcome,) = run_import(fresh_registry, [path], dry_run=dry_run, write_rejects=False)
            assert outcome.ok, (attempt, outcome.error)
            assert outcome.accounted, (attempt, outcome.rows_summary())
