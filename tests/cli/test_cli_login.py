"""Issue 14 on the command line: once a registry has accounts, every command logs the person in,
runs only what their role allows, and leaves an audit entry (a refusal too)."""

from __future__ import annotations

import pytest

from panelmanager import cli
from panelmanager.cli import auth as auth_cli
from panelmanager.core import audit, auth
from panelmanager.core.db import open_registry
from panelmanager.core.permissions import current_actor

PASSWORD = "correct horse battery"


@pytest.fixture
def registry_with_accounts(tmp_path, monkeypatch):
    path = tmp_path / "registry.sqlite3"
    registry = open_registry(path, create=True)
    with registry.write_session() as session:
        admin = auth.create_first_admin(session, "boss", "The Boss", PASSWORD)
        auth.create_user(session, admin, "desk", "Front Desk", "front_desk", PASSWORD)
    registry.close()
    monkeypatch.setattr(auth_cli, "keyring_token", lambda registry: None)
    monkeypatch.delenv(auth_cli.TOKEN_ENV, raising=False)
    monkeypatch.setattr(auth_cli, "_ask_password", lambda prompt: PASSWORD)
    return path


def _entries(path):
    registry = open_registry(path)
    try:
        with registry.session() as session:
            return [(e.user_name, e.action, e.outcome) for e in audit.list_entries(session)]
    finally:
        registry.close()


def test_a_command_logs_in_checks_the_role_and_is_audited(registry_with_accounts, capsys):
    path = registry_with_accounts
    assert cli.main(["--db", str(path), "--login", "boss", "stats", "--json"]) == 0
    assert current_actor() is None  # logged out when the command ends
    assert ("boss", "command", "ok") in _entries(path)


def test_the_front_desk_cannot_run_a_panel_review_and_the_refusal_is_audited(registry_with_accounts, capsys):
    path = registry_with_accounts
    code = cli.main(["--db", str(path), "--login", "desk", "assign", "--as-of", "2024-02-03"])
    err = capsys.readouterr().err
    assert code != 0
    assert "front desk" in err and "Traceback" not in err
    assert ("desk", "assign", "refused") in _entries(path)


def _help(capsys, command: str) -> str:
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    return capsys.readouterr().out


def test_user_cannot_name_someone_else_once_logged_in(registry_with_accounts, capsys):
    path = registry_with_accounts
    with pytest.raises(SystemExit) as exit_:  # a usage error, as argparse exits for one: status 2
        cli.main(["--db", str(path), "--login", "desk", "confirm", "NOPE", "--by", "patient", "--user", "Dr. Bob"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--user is no longer accepted: the acting user is the one logged in" in err and "--login USER" in err
    assert "Traceback" not in err and "--user" not in _help(capsys, "confirm")
    assert ("desk", "confirm", "ok") not in _entries(path)  # nothing was done under the typed name


def test_a_wrong_password_is_refused_without_a_traceback(registry_with_accounts, monkeypatch, capsys):
    path = registry_with_accounts
    monkeypatch.setattr(auth_cli, "_ask_password", lambda prompt: "not the password")
    code = cli.main(["--db", str(path), "--login", "boss", "stats"])
    err = capsys.readouterr().err
    assert code != 0 and "Traceback" not in err


def test_a_change_is_one_entry_naming_the_patient_with_its_outcome(registry_with_accounts, capsys):
    """``confirm`` is audited by the service itself: one entry with the patient's id and the outcome
    (the login adds none of its own), and a confirm the service refuses is an ``error`` entry."""
    from clinic import build_clinic

    path = registry_with_accounts
    registry = open_registry(path)
    with registry.session() as session:
        ids = build_clinic(session)
    registry.close()
    before = len(_entries(path))
    assert cli.main(["--db", str(path), "--login", "desk", "confirm", "P1", "--by", "patient"]) == 0
    assert cli.main(["--db", str(path), "--login", "desk", "confirm", "P3", "--by", "patient"]) != 0  # on no panel
    assert cli.main(["--db", str(path), "--login", "desk", "history", "P1"]) == 0  # a patient's record, viewed
    assert "Traceback" not in capsys.readouterr().err
    registry = open_registry(path)
    try:
        with registry.session() as session:
            new = list(reversed(audit.list_entries(session)))[before:]
    finally:
        registry.close()
    assert [(e.user_name, e.action, e.outcome, e.patient_ids) for e in new] == [
        ("desk", "login", "ok", ()), ("desk", "confirm", "ok", (ids["alice"],)),
        ("desk", "login", "ok", ()), ("desk", "confirm", "error", (ids["carol"],)),
        ("desk", "login", "ok", ()), ("desk", "view_patient", "ok", (ids["alice"],)),
    ]


def test_a_restore_is_the_last_entry_of_the_restored_trail(registry_with_accounts, tmp_path, capsys):
    path = registry_with_accounts
    saved = tmp_path / "saved.sqlite3"
    assert cli.main(["--db", str(path), "--login", "boss", "backup", "--to", str(saved)]) == 0
    assert cli.main(["--db", str(path), "--login", "desk", "restore", str(saved)]) != 0  # the front desk may not
    assert "Traceback" not in capsys.readouterr().err
    assert cli.main(["--db", str(path), "--login", "boss", "restore", str(saved)]) == 0
    registry = open_registry(path)
    try:
        with registry.session() as session:
            last = audit.list_entries(session, limit=1)[0]
            assert audit.verify(session).ok
    finally:
        registry.close()
    assert (last.user_name, last.action, last.outcome) == ("boss", "restore", "ok")
