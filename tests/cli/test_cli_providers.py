"""Issue 9 item 5 from the command line: ``panelmanager providers list|merge|set``."""

from __future__ import annotations

import json

from panelmanager.cli import main

CSV = (
    "patientid,patient firstname,patient lastname,patientdob,patientsex,appointmentid,apptdate,apptstarttime,"
    "appttype,apptstatus,appt schdlng prvdr\n"
    "1001,MARIA,GARCIA,04/12/1975,F,50001,01/15/2024,09:30 AM,ANNUAL PHYSICAL,4,GC_Klein_S\n"
    "1002,JOHN,OBRIEN,01/02/1950,M,50003,03/01/2024,10:00 AM,FOLLOW UP,4,KLEINS\n"
)


def test_list_merge_set_then_assign(tmp_path, capsys):
    db = str(tmp_path / "r.sqlite3")
    path = tmp_path / "athena.csv"
    path.write_text(CSV, encoding="utf-8")
    assert main(["--db", db, "--create", "import", str(path)]) == 0
    capsys.readouterr()

    assert main(["--db", db, "providers", "list"]) == 0
    out = capsys.readouterr().out
    assert "GC_KLEIN_S" in out and "KLEINS" in out
    assert "No provider can hold a panel" in out and "Settings > Providers" in out

    assert main(["--db", db, "providers", "merge", "GC_KLEIN_S", "KLEINS"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Merged Kleins into GC_Klein_S: ") and "1 patients' panels" not in out

    assert main(["--db", db, "providers", "set", "GC_KLEIN_S", "--name", "Sarah Klein, MD", "--npi", "1234567893",
                 "--specialty", "Family Practice"]) == 0
    assert "holds a panel: yes" in capsys.readouterr().out

    assert main(["--db", db, "providers", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["display_name"], r["also_known_as"], r["holds_panel"]) for r in rows] == [
        ("Sarah Klein, MD", ["KLEINS"], True)]
    assert main(["--db", db, "providers", "list", "--all", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2


def test_bad_input_is_a_message(tmp_path, capsys):
    db = str(tmp_path / "r.sqlite3")
    path = tmp_path / "athena.csv"
    path.write_text(CSV, encoding="utf-8")
    main(["--db", db, "--create", "import", str(path)])
    capsys.readouterr()
    assert main(["--db", db, "providers", "set", "KLEINS", "--npi", "1234567890"]) == 1
    assert "not a valid NPI" in capsys.readouterr().err
    assert main(["--db", db, "providers", "merge", "nobody", "KLEINS"]) == 1
    err = capsys.readouterr().err
    assert "There is no provider 'nobody'" in err and "Traceback" not in err


def test_assign_says_why_no_one_could_be_assigned(tmp_path, capsys):
    db = str(tmp_path / "r.sqlite3")
    path = tmp_path / "athena.csv"
    path.write_text(CSV, encoding="utf-8")
    main(["--db", db, "--create", "import", str(path)])
    capsys.readouterr()
    assert main(["--db", db, "assign", "--as-of", "2024-06-01"]) == 0
    captured = capsys.readouterr()
    assert "needs assignment         2" in captured.out
    assert "No provider can hold a panel" in captured.err and "panelmanager providers" in captured.err
