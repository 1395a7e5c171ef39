"""Issue 9 item 17: the search box ignores accents and case, and finds an MRN by any part of it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from panelmanager.core import models
from panelmanager.core.importers import run_import
from panelmanager.core.patients import search_patient_ids
from panelmanager.core.search_keys import fold, name_key

PATIENTS = (
    "MRN,Last Name,First Name,DOB\n"
    "D0000358,Núñez,María José,04/12/1975\n"
    "D0001234,García-López,Zoë,01/02/1980\n"
    "D0004567,Nguyễn,Đức Anh,03/03/1990\n"
    "D0007890,Weiß,Jürgen,05/05/1965\n"
    "D0003580,Lee,Ann,06/06/1970\n"
)


@pytest.fixture
def imported(fresh_registry, tmp_path: Path):
    path = tmp_path / "patients.csv"
    path.write_text(PATIENTS, encoding="utf-8")
    [outcome] = run_import(fresh_registry, [path], write_rejects=False)
    assert outcome.ok
    return fresh_registry


def found(registry, text: str) -> list[str]:
    with registry.session() as session:
        ids = search_patient_ids(session, text)
        return sorted(session.get(models.Patient, i).mrn for i in ids)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("nunez", ["D0000358"]),
        ("NUNEZ", ["D0000358"]),
        ("Núñez", ["D0000358"]),
        ("nunez, maria", ["D0000358"]),
        ("maria nunez", ["D0000358"]),
        ("jose", ["D0000358"]),  # second given name
        ("lopez", ["D0001234"]),  # second part of a hyphenated surname
        ("garcia lopez", ["D0001234"]),
        ("zoe", ["D0001234"]),
        ("nguyen duc", ["D0004567"]),
        ("weiss", ["D0007890"]),
        ("jurgen", ["D0007890"]),
        ("358", ["D0000358", "D0003580"]),  # an MRN fragment from the middle or the end
        ("0358", ["D0000358", "D0003580"]),
        ("d0000358", ["D0000358"]),
        ("ez", []),  # names match at the start of a word, not in the middle
        ("lee, maria", []),
    ],
)
def test_accent_and_case_insensitive_search_after_an_import(imported, text, expected):
    assert found(imported, text) == expected


def test_a_renamed_patient_is_found_by_the_new_name_after_the_next_import(imported, tmp_path):
    path = tmp_path / "renamed.csv"
    path.write_text(PATIENTS.replace("Lee,Ann", "Peña,Ann"), encoding="utf-8")
    run_import(imported, [path], write_rejects=False)
    assert found(imported, "pena") == ["D0003580"]
    assert found(imported, "lee") == []


def test_patients_written_through_the_orm_get_the_key(fresh_registry):
    with fresh_registry.session() as session:
        session.add(models.Patient(mrn="X1", first_name="Ñandú", last_name="Ödegård", dob=dt.date(1990, 1, 1),
                                   source="test", status="active"))
    assert found(fresh_registry, "odegard nandu") == ["X1"]
    with fresh_registry.session() as session:
        patient = session.query(models.Patient).one()
        patient.last_name = "Çelik"
    assert found(fresh_registry, "celik") == ["X1"]


def test_every_accented_letter_of_the_issue_languages_folds_to_its_base_letter():
    text = "ÁÀÂÄÃÅĀĂĄ áàâäãåāăą ÇĆČ çćč ÉÈÊËĒĖĘĚẼ éèêëēėęěẽ ÍÌÎÏĨ íìîïĩ ÑŃ ñń ÓÒÔÖÕŌƠ óòôöõōơ ÚÙÛÜŨŪƯ úùûüũūư ÝŸỲ ýÿỳ"
    assert fold(text) == (
        "aaaaaaaaa aaaaaaaaa ccc ccc eeeeeeeee eeeeeeeee iiiii iiiii nn nn ooooooo ooooooo uuuuuuu uuuuuuu yyy yyy"
    )
    assert fold("Đặng Thị Ngọc Hạnh") == "dang thi ngoc hanh"
    assert fold("Straße Æsir Œuvre Øre Łódź") == "strasse aesir oeuvre ore lodz"
    assert name_key("García-López", "María", "José") == " garcia lopez / maria jose"


def test_the_column_fold_matches_the_one_value_fold():
    import pandas as pd

    from panelmanager.core.search_keys import name_keys

    last = pd.Series(["García-López", "O'Neil", None, "LEE", "Van  Der/Berg", "Weiß", "Nguyễn"])
    first = pd.Series(["María", "Ann", "X", None, "Jo", "Jürgen", "Đức Anh"])
    middle = pd.Series([None, "B", None, None, "\tq", None, None])
    assert name_keys(last, first, middle).tolist() == [name_key(a, b, c) for a, b, c in zip(last, first, middle)]
