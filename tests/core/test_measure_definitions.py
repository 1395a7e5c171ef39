"""Measure and value-set files: the shipped ones load and cite sources; broken ones say where."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from panelmanager.core.measures import load_measures, load_valuesets
from panelmanager.core.resources import resources_dir

SHIPPED = {
    "breast-cancer-screening": "CMS125",
    "cervical-cancer-screening": "CMS124",
    "colorectal-cancer-screening": "CMS130",
    "diabetes-a1c-poor-control": "CMS122",
    "controlling-bp": "CMS165",
    "influenza-immunization": "CMS147",
    "pneumococcal-65": None,
    "childhood-immunization": "CMS117",
    "statin-therapy": "CMS347",
    "depression-screening": "CMS2",
    "tobacco-screening": "CMS138",
    "no-visit-12-months": None,
    "no-upcoming-appointment": None,
}


@pytest.fixture
def resources(tmp_path: Path) -> Path:
    """A copy of the shipped measures and value sets to break."""
    target = tmp_path / "resources"
    for folder in ("measures", "valuesets"):
        shutil.copytree(resources_dir() / folder, target / folder)
    return target


def test_every_shipped_measure_loads_and_cites_its_source():
    measures, errors = load_measures()
    assert errors == []
    by_id = {m.id: m for m in measures}
    assert set(by_id) == set(SHIPPED)
    for measure_id, ecqm in SHIPPED.items():
        m = by_id[measure_id]
        assert m.title and m.letter_phrase
        if ecqm:
            assert (m.source.ecqm, bool(m.source.version)) == (ecqm, True)
        else:
            assert m.source.guideline
        assert m.source.url and m.source.url.startswith("https://")
    assert by_id["diabetes-a1c-poor-control"].inverse
    assert [m.id for m in measures][0] == "breast-cancer-screening"  # listed in their own order


def test_every_value_set_cites_its_source():
    valuesets, errors = load_valuesets(resources_dir())
    assert errors == []
    assert len(valuesets) >= 30
    for vs in valuesets.values():
        assert vs.source, vs.id


@pytest.mark.parametrize(
    ("valueset", "codes"),
    [
        # What the demo practice and Synthea send (../shared/data/README.md), besides real-world codes.
        ("diabetes", ["44054006"]),
        ("essential-hypertension", ["38341003", "59621000", "I10"]),
        ("colorectal-cancer", ["363406005"]),
        ("hba1c", ["4548-4"]),
        ("systolic-blood-pressure", ["8480-6"]),
        ("diastolic-blood-pressure", ["8462-4"]),
        ("depression-screening", ["55757-9", "55758-7", "44261-6", "171207006"]),
        ("tobacco-screening", ["72166-2"]),
        ("fecal-occult-blood-test", ["29771-3", "57905-2"]),
        ("cervical-cytology", ["10524-7", "90226004", "88175"]),
        ("hpv-test", ["30167-1"]),
        ("colonoscopy", ["73761001", "45378"]),
        ("mammography", ["71651007", "77067"]),
        ("flexible-sigmoidoscopy", ["44441009"]),
        ("ct-colonography", ["418714002"]),
        ("influenza-vaccine", ["140", "141", "150", "158", "185", "197"]),
        ("pneumococcal-vaccine", ["33", "133", "215", "216"]),
        ("dtap-vaccine", ["20", "106", "107"]),
        ("polio-vaccine", ["10"]),
        ("mmr-vaccine", ["03"]),
        ("hib-vaccine", ["49", "48"]),
        ("hepatitis-b-vaccine", ["08"]),
        ("varicella-vaccine", ["21"]),
        ("pneumococcal-conjugate-vaccine", ["133", "152"]),
        ("hepatitis-a-vaccine", ["83"]),
        ("rotavirus-vaccine", ["116", "119"]),
        ("statin-therapy", ["617310", "312961", "859749", "314231", "259255"]),
    ],
)
def test_value_sets_hold_the_codes_the_demo_and_synthea_send(valueset, codes):
    import pandas as pd

    valuesets, _errors = load_valuesets(resources_dir())
    found = valuesets[valueset].contains(pd.Series(codes))
    assert found.all(), [c for c, ok in zip(codes, found) if not ok]


def test_icd10_codes_match_with_or_without_the_dot_and_by_prefix():
    import pandas as pd

    valuesets, _errors = load_valuesets(resources_dir())
    diabetes = valuesets["diabetes"]
    assert diabetes.contains(pd.Series(["E11.9", "E119", "e11.65", "O24.11", "O24.410", "E78.5"])).tolist() == [
        True,
        True,
        True,
        True,
        False,  # gestational diabetes is not in the value set
        False,
    ]


def test_unknown_key_names_the_file_and_key_and_the_others_still_load(resources):
    path = resources / "measures" / "colorectal-cancer-screening.toml"
    path.write_text(path.read_text().replace("lookback_years = 10", "lookbak_years = 10", 1))
    measures, errors = load_measures(resources)
    assert len(errors) == 1
    assert "colorectal-cancer-screening.toml" in errors[0]
    assert "satisfied_by[1].lookbak_years" in errors[0]
    assert "unknown key" in errors[0]
    assert len(measures) == len(SHIPPED) - 1
    assert "colorectal-cancer-screening" not in {m.id for m in measures}


def test_bad_value_set_reference_names_the_file_and_key(resources):
    path = resources / "measures" / "breast-cancer-screening.toml"
    path.write_text(path.read_text().replace('valueset = "mammography"', 'valueset = "mamography"', 1))
    measures, errors = load_measures(resources)
    assert len(errors) == 1
    assert "breast-cancer-screening.toml" in errors[0]
    assert "satisfied_by[1].valueset" in errors[0]
    assert "'mamography'" in errors[0]
    assert len(measures) == len(SHIPPED) - 1


def test_toml_syntax_error_names_the_file_and_line(resources):
    (resources / "measures" / "tobacco-screening.toml").write_text('id = "tobacco-screening"\ntitle = \n')
    measures, errors = load_measures(resources)
    assert len(errors) == 1 and "tobacco-screening.toml" in errors[0] and "line 2" in errors[0]
    assert len(measures) == len(SHIPPED) - 1


def test_broken_value_set_is_reported_and_its_measures_do_not_load(resources):
    (resources / "valuesets" / "hba1c.toml").write_text('title = "HbA1c"\nsource = "x"\n[codes]\nLONIC = ["4548-4"]\n')
    measures, errors = load_measures(resources)
    assert any("hba1c.toml" in e and "codes.LONIC" in e and "unknown code system" in e for e in errors)
    assert any("diabetes-a1c-poor-control.toml" in e and "'hba1c'" in e for e in errors)
    assert "diabetes-a1c-poor-control" not in {m.id for m in measures}
    assert "controlling-bp" in {m.id for m in measures}


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ('[source]\nguideline = "g"\n', "satisfied_by", "say what closes the gap"),
        ('[source]\nversion = "v1"\n', "source", "cite an eCQM"),
        ('[source]\necqm = "CMS1"\n', "source.version", "missing"),
        ('[source]\nguideline = "g"\n[eligible]\nsex = "X"\n', "eligible.sex", '"F" or "M"'),
        ('[source]\nguideline = "g"\n[eligible]\nage_min = 70\nage_max = 60\n', "eligible.age_max", "below age_min"),
        (
            '[source]\nguideline = "g"\n[[satisfied_by]]\nkind = "procedure"\nvalueset = "colonoscopy"\n',
            "satisfied_by[1].lookback_months",
            "exactly one",
        ),
        (
            '[source]\nguideline = "g"\n[[satisfied_by]]\nkind = "x-ray"\n',
            "satisfied_by[1].kind",
            "not one of",
        ),
        (
            '[source]\nguideline = "g"\n[[exclusions]]\nkind = "procedure"\nvalueset = "colonoscopy"\nactive = true\n'
            '[[satisfied_by]]\nkind = "visit"\nlookback_months = 12\n',
            "exclusions[1].active",
            "only conditions",
        ),
    ],
)
def test_invalid_definitions_say_which_key(resources, text, key, message):
    (resources / "measures" / "zz-new.toml").write_text(f'id = "zz-new"\ntitle = "New"\nletter_phrase = "x"\n{text}')
    _measures, errors = load_measures(resources)
    assert len(errors) == 1
    assert "zz-new.toml" in errors[0] and key in errors[0] and message in errors[0]


def test_duplicate_measure_id_is_refused(resources):
    source = resources / "measures" / "tobacco-screening.toml"
    (resources / "measures" / "zz-copy.toml").write_text(source.read_text())
    measures, errors = load_measures(resources)
    assert len(errors) == 1 and "zz-copy.toml" in errors[0] and "already used" in errors[0]
    assert sum(m.id == "tobacco-screening" for m in measures) == 1


def test_value_set_includes_are_resolved(resources):
    (resources / "valuesets" / "all-screening-colonoscopy.toml").write_text(
        'title = "Any colon test"\nsource = "test"\nincludes = ["colonoscopy", "stool-dna-fit"]\n'
    )
    valuesets, errors = load_valuesets(resources)
    assert errors == []
    import pandas as pd

    assert valuesets["all-screening-colonoscopy"].contains(pd.Series(["45378", "77354-9"])).all()


def test_a_measure_with_a_visit_requirement(resources, fresh_registry):
    import datetime as dt

    from test_measures_support import Practice, statuses

    (resources / "measures" / "zz-seen.toml").write_text(
        'id = "zz-seen"\ntitle = "Seen twice"\nletter_phrase = "x"\n[source]\nguideline = "test"\n'
        '[eligible]\nage_min = 18\n[eligible.visits]\nclasses = ["wellness", "ambulatory"]\nwithin_months = 12\nmin_count = 2\n'
        '[[satisfied_by]]\nkind = "observation"\nvalueset = "tobacco-screening"\nlookback_months = 12\n'
    )
    practice = Practice(fresh_registry)
    twice = practice.patient("twice", dob=dt.date(1980, 1, 1))
    once = practice.patient("once", dob=dt.date(1980, 1, 1))
    for day in (dt.date(2023, 6, 1), dt.date(2024, 1, 1)):
        practice.visit(twice, day, "ambulatory")
    practice.visit(once, dt.date(2024, 1, 1), "wellness")
    practice.visit(once, dt.date(2024, 1, 2), "emergency")
    result = statuses(fresh_registry, "zz-seen", resources_dir=resources)
    assert set(result) == {"twice"}
