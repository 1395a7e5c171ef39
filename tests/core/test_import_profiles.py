"""Import profiles: the shipped TOML files load, bad files fail clearly, headers match fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from panelmanager.core.importers import profiles as pr
from panelmanager.core.resources import ResourceError


def write_profile(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(body, encoding="utf-8")
    return path


MINIMAL = """
name = "{name}"
source = "test"
[fields]
patient_id = ["Acct"]
dob = ["Born"]
last_name = ["Surname"]
[required]
patients = ["patient_id", "last_name", "dob"]
"""


def test_the_shipped_profiles_load_and_validate():
    names = pr.available_profiles()
    assert {"generic", "athenahealth", "openemr"} <= set(names)
    assert "visit_types" not in names
    for name in names:
        profile = pr.load_profile(name)
        assert profile.name == name
        assert profile.required["patients"] and profile.required["visits"]
    athena = pr.load_profile("athenahealth")
    assert athena.source == "athenahealth"
    assert pr.load_profile("openemr").source == "openemr"
    assert pr.load_profile("generic").source == "pm"
    # athenahealth inherits generic's languages and placeholders and adds its own status letters.
    assert athena.values["preferred_language"]["spanish"] == "es"
    assert athena.values["appt_status"]["f"] == "scheduled"
    assert athena.values["appt_status"]["checked out"] == "completed"
    assert "*self pay*" in athena.placeholders


def test_visit_type_rules_load():
    rules = pr.load_visit_types()
    assert rules.default == "ambulatory"
    words = rules.as_words()
    assert words["annual"] == "wellness"
    assert words["telehealth"] == "virtual"
    assert words["hospital follow up"] == "ambulatory"


def test_an_unknown_key_names_the_file_and_key(tmp_path):
    path = write_profile(tmp_path, "mine", MINIMAL.format(name="mine") + "\ncolour = \"blue\"\n")
    with pytest.raises(ResourceError) as error:
        pr.load_profile_file(path)
    assert str(path) in str(error.value) and "colour" in str(error.value)


def test_an_unknown_field_names_the_file_and_key(tmp_path):
    path = write_profile(tmp_path, "mine", MINIMAL.format(name="mine").replace("dob = ", "dobb = "))
    with pytest.raises(ResourceError) as error:
        pr.load_profile_file(path)
    message = str(error.value)
    assert str(path) in message and "fields.dobb" in message and "patient_id" in message


def test_a_wrong_type_names_the_file_and_key(tmp_path):
    path = write_profile(tmp_path, "mine", MINIMAL.format(name="mine").replace('dob = ["Born"]', 'dob = "Born"'))
    with pytest.raises(ResourceError) as error:
        pr.load_profile_file(path)
    assert str(path) in str(error.value) and "fields.dob" in str(error.value) and "list" in str(error.value)


def test_a_translation_outside_the_vocabulary_is_refused(tmp_path):
    body = MINIMAL.format(name="mine") + '\n[values.appt_status]\nk = "kept"\n'
    path = write_profile(tmp_path, "mine", body)
    with pytest.raises(ResourceError) as error:
        pr.load_profile_file(path)
    assert "values.appt_status.k" in str(error.value) and "scheduled" in str(error.value)


def test_a_toml_syntax_error_names_the_file_and_line(tmp_path):
    path = write_profile(tmp_path, "mine", 'name = "mine"\nsource = \n')
    with pytest.raises(ResourceError) as error:
        pr.load_profile_file(path)
    assert str(path) in str(error.value) and "line 2" in str(error.value)


def test_a_profile_inherits_from_its_base_beside_it(tmp_path):
    write_profile(tmp_path, "base", MINIMAL.format(name="base") + '\n[values.sex]\nw = "F"\n[placeholders]\nvalues = ["nada"]\n')
    path = write_profile(
        tmp_path,
        "child",
        'name = "child"\nsource = "child"\nbase = "base"\n[fields]\npatient_id = ["Nr"]\n[values.sex]\nh = "M"\n',
    )
    child = pr.load_profile_file(path)
    assert child.values["sex"] == {"w": "F", "h": "M"}
    assert child.placeholders == ("nada",)
    assert child.required["patients"] == (("patient_id",), ("last_name",), ("dob",))
    assert child.fields == {"patient_id": ("Nr",)}


def test_a_practice_profile_folder_can_replace_the_shipped_one(tmp_path, monkeypatch):
    folder = tmp_path / "import_profiles"
    folder.mkdir()
    write_profile(folder, "generic", MINIMAL.format(name="generic"))
    monkeypatch.setenv("PANELMANAGER_RESOURCES", str(tmp_path))
    assert pr.available_profiles() == ["generic"]
    assert pr.load_profile("generic").fields["patient_id"] == ("Acct",)
    with pytest.raises(KeyError):
        pr.load_profile("athenahealth")


@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Date of Birth", "dateofbirth"),
        ("date_of_birth", "dateofbirth"),
        ("DATE-OF-BIRTH", "dateofbirth"),
        ("Chart #", "chartno"),
        ("Chart No.", "chartno"),
        ("Chart Number", "chartno"),
        ("pc_eventDate", "pceventdate"),
    ],
)
def test_headers_compare_ignoring_case_spacing_and_punctuation(header, key):
    assert pr.header_key(header) == key


def test_generic_matches_common_synonyms_and_prefixed_headers():
    generic = pr.load_profile("generic")
    headers = ["Chart #", "Acct No", "Patient Name", "Date of Birth", "Pt Gender", "Cell", "Home Phone", "Phone",
               "E-mail", "Appt. Date", "Time", "Rendering Provider", "Appt Status", "Patient First Name"]
    columns = pr.match_columns(generic, headers)
    assert columns["mrn"] == "Chart #"
    assert columns["patient_id"] == "Acct No"
    assert columns["full_name"] == "Patient Name"
    assert columns["dob"] == "Date of Birth"
    assert columns["sex"] == "Pt Gender"
    assert columns["phone_mobile"] == "Cell"
    assert columns["phone_home"] == "Home Phone"
    assert columns["email"] == "E-mail"
    assert columns["appt_date"] == "Appt. Date"
    assert columns["appt_time"] == "Time"
    assert columns["provider"] == "Rendering Provider"
    assert columns["appt_status"] == "Appt Status"
    assert columns["first_name"] == "Patient First Name"
    # "Phone" is a second home-phone column: it fills gaps in the first.
    assert pr.fallback_columns(generic, headers, columns) == {"phone_home": ["Phone"]}


def test_a_mapping_wins_over_the_profile():
    generic = pr.load_profile("generic")
    columns = pr.match_columns(generic, ["DOB", "Birth Dt", "MRN"], {"dob": "Birth Dt"})
    assert columns["dob"] == "Birth Dt"
    assert columns["mrn"] == "MRN"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (["patientid", "patient firstname", "patient lastname", "patientdob", "apptdate"], "athenahealth"),
        (["pid", "pubpid", "fname", "lname", "DOB"], "openemr"),
        (["pc_eid", "pc_pid", "pc_eventDate", "pc_startTime"], "openemr"),
        (["MRN", "Last Name", "First Name", "DOB"], "generic"),
        (["Patient ID", "DOB"], "generic"),
    ],
)
def test_the_best_fitting_profile_is_detected(headers, expected):
    assert pr.detect_profile(headers, pr.load_profiles()).name == expected
