"""``panelmanager users``, ``token`` and ``audit``: accounts from the command line, logins by password or
token, the audit listing and ``audit verify`` naming a tampered row."""

from __future__ import annotations

import importlib

import pytest
from auth_helpers import PASSWORD, fast_hashing
from sqlalchemy import text

from panelmanager.cli import auth as auth_cli
from panelmanager.cli import main


@pytest.fixture(autouse=True)
def _setup(monkeypatch):
    fast_hashing(monkeypatch)
    monkeypatch.setattr(auth_cli, "keyring_token", lambda registry: None)
    monkeypatch.delenv(auth_cli.TOKEN_ENV, raising=False)


@pytest.fixture
def password(monkeypatch):
    """What getpass answers; tests change ``password.value``."""

    class Answer:
        value = PASSWORD
        asked: list[str] = []

    answer = Answer()
    answer.asked = []

    def fake_getpass(prompt=""):
        answer.asked.append(prompt)
        return answer.value

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    return answer


@pytest.fixture
def db(tmp_path, password, capsys) -> str:
    path = str(tmp_path / "r.sqlite3")
    assert main(["--db", path, "--create", "users", "init", "boss", "--name", "Bea Boss"]) == 0
    assert "Created the administrator boss" in capsys.readouterr().out
    assert main(["--db", path, "users", "add", "desk", "--role", "front_desk", "--name", "Dee Desk", "--login", "boss"]) == 0
    assert main(["--db", path, "users", "add", "mgr", "--role", "manager", "--login", "boss"]) == 0
    capsys.readouterr()
    return path


def test_users_list_and_roles(db, capsys):
    assert main(["--db", db, "users", "list", "--login", "boss"]) == 0
    out = capsys.readouterr().out
    assert "desk" in out and "front_desk" in out and "Dee Desk" in out and "active" in out
    assert main(["--db", db, "users", "list", "--login", "mgr"]) == 1
    assert "Your role (manager) cannot manage user accounts. Ask an administrator." in capsys.readouterr().err
    assert main(["--db", db, "users", "role", "desk", "ma_nurse", "--login", "boss"]) == 0
    assert main(["--db", db, "users", "disable", "desk", "--login", "boss"]) == 0
    capsys.readouterr()
    assert main(["--db", db, "audit", "--login", "desk"]) == 1
    assert "This account is disabled" in capsys.readouterr().err


def test_init_only_once_and_a_wrong_password(db, password, capsys):
    assert main(["--db", db, "users", "init", "eve"]) == 1
    assert "already has an administrator" in capsys.readouterr().err
    password.value = "not the password"
    assert main(["--db", db, "audit", "--login", "boss"]) == 1
    err = capsys.readouterr().err
    assert "Wrong user name or password" in err and "Traceback" not in err


def test_a_registry_without_users_says_how_to_start(tmp_path, password, capsys):
    path = str(tmp_path / "new.sqlite3")
    assert main(["--db", path, "--create", "audit"]) == 1
    assert "panelmanager users init" in capsys.readouterr().err


def test_audit_lists_filters_and_exports(db, capsys, tmp_path):
    assert main(["--db", db, "audit", "--login", "mgr", "--user", "boss"]) == 0
    out = capsys.readouterr().out
    assert "user_created" in out and "first_admin" in out
    assert all(line.split()[3] == "boss" for line in out.splitlines())  # seq, date, time, user
    target = tmp_path / "audit.csv"
    assert main(["--db", db, "audit", "--login", "mgr", "--format", "csv", "--output", str(target)]) == 0
    lines = target.read_text().splitlines()
    assert lines[0].startswith("seq,when,user,role,workstation,action")
    assert any(",audit_view," in line for line in lines)  # the previous listing is itself audited
    assert main(["--db", db, "audit", "--login", "desk"]) == 1
    assert "Your role (front desk) cannot read the audit trail. Ask a manager." in capsys.readouterr().err


def test_token_login_for_scripts(db, capsys, monkeypatch, password):
    assert main(["--db", db, "token", "create", "--for", "mgr", "--name", "nightly", "--login", "boss"]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("pmt_")
    password.value = "this would be wrong"
    monkeypatch.setenv(auth_cli.TOKEN_ENV, token)
    assert main(["--db", db, "audit", "--action", "login"]) == 0
    assert "mgr" in capsys.readouterr().out
    monkeypatch.delenv(auth_cli.TOKEN_ENV)
    password.value = PASSWORD
    assert main(["--db", db, "token", "revoke", "nightly", "--login", "boss"]) == 0
    monkeypatch.setenv(auth_cli.TOKEN_ENV, token)
    assert main(["--db", db, "audit"]) == 1
    assert "token was not accepted" in capsys.readouterr().err


def test_audit_verify_names_a_tampered_row(db, capsys):
    from panelmanager.core.db import open_registry

    assert main(["--db", db, "audit", "verify", "--login", "mgr"]) == 0
    assert "The audit trail is intact" in capsys.readouterr().out
    registry = open_registry(db)
    migration = importlib.import_module("panelmanager.core.migrations.versions.0010_auth")
    with registry.engine.begin() as conn:
        for statement in migration.drop_trigger_sql("sqlite"):
            conn.execute(text(statement))
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    registry.close()
    assert main(["--db", db, "audit", "verify", "--login", "mgr"]) == 1
    assert "Audit row #2 was deleted: the trail jumps from #1 to #3" in capsys.readouterr().err
