"""``panelmanager users init`` without a terminal: a setup script gives the administrator's password
with ``--password-stdin`` or ``$PANELMANAGER_PASSWORD`` (read once, never shown); with neither the
command says how, instead of waiting for a terminal or reading a password it would echo."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from auth_helpers import PASSWORD, fast_hashing

from panelmanager.cli import auth as auth_cli
from panelmanager.cli import main
from panelmanager.core import auth
from panelmanager.core.db import open_registry


@pytest.fixture(autouse=True)
def _setup(monkeypatch):
    fast_hashing(monkeypatch)
    monkeypatch.setattr(auth_cli, "keyring_token", lambda registry: None)
    for name in (auth_cli.TOKEN_ENV, auth_cli.PASSWORD_ENV):
        monkeypatch.delenv(name, raising=False)


def _stdin(monkeypatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def _logs_in(path, username: str, password: str) -> bool:
    registry = open_registry(path)
    try:
        return auth.login(registry, username, password).role in auth.ROLES
    except auth.AuthError:
        return False
    finally:
        registry.close()


def _no_terminal_run(args: list[str], *, stdin: bytes | None, env: dict | None = None):
    """The real command in a new session (no controlling terminal), as cron or a setup script runs it."""
    environment = {k: v for k, v in os.environ.items() if k not in (auth_cli.TOKEN_ENV, auth_cli.PASSWORD_ENV)}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "panelmanager", *args], input=stdin,
                          stdin=subprocess.DEVNULL if stdin is None else None, capture_output=True,
                          env=environment, start_new_session=True, timeout=300)


def test_without_a_terminal_or_a_piped_password_it_says_how(tmp_path):
    path = tmp_path / "r.sqlite3"
    done = _no_terminal_run(["--db", str(path), "--create", "users", "init", "boss"], stdin=None)
    err = done.stderr.decode()
    assert done.returncode == 1, err
    assert "--password-stdin" in err and "PANELMANAGER_PASSWORD" in err
    assert "Traceback" not in err and "Warning" not in err
    registry = open_registry(path)
    with registry.session() as session:
        assert not auth.has_users(session)
    registry.close()


def test_password_stdin_in_a_script(tmp_path):
    path = tmp_path / "r.sqlite3"
    secret = "piped in by the setup script"
    done = _no_terminal_run(["--db", str(path), "--create", "users", "init", "boss", "--password-stdin"],
                            stdin=(secret + "\n").encode())
    assert done.returncode == 0, done.stderr.decode()
    assert "Created the administrator boss" in done.stdout.decode()
    assert secret not in done.stdout.decode() + done.stderr.decode()
    assert _logs_in(path, "boss", secret)


def test_password_from_the_environment_is_read_once(tmp_path, monkeypatch, capsys):
    path = str(tmp_path / "r.sqlite3")
    monkeypatch.setenv(auth_cli.PASSWORD_ENV, PASSWORD)
    assert main(["--db", path, "--create", "users", "init", "boss"]) == 0
    out, err = capsys.readouterr()
    assert "Created the administrator boss" in out and PASSWORD not in out + err
    assert auth_cli.PASSWORD_ENV not in os.environ  # gone: a child process does not inherit it
    assert _logs_in(path, "boss", PASSWORD)


def test_the_environment_password_is_only_for_init(tmp_path, monkeypatch, capsys):
    """Every 'users add' of a script would otherwise give each user the same password."""
    path = str(tmp_path / "r.sqlite3")
    _stdin(monkeypatch, PASSWORD + "\n")
    assert main(["--db", path, "--create", "users", "init", "boss", "--password-stdin"]) == 0
    monkeypatch.setattr("getpass.getpass", lambda prompt="": PASSWORD)  # boss logs in
    monkeypatch.setenv(auth_cli.PASSWORD_ENV, "the same for everyone")
    _stdin(monkeypatch, "desk password 42\n")
    assert main(["--db", path, "users", "add", "desk", "--role", "front_desk", "--login", "boss",
                 "--password-stdin"]) == 0
    assert "Added desk" in capsys.readouterr().out
    assert _logs_in(path, "desk", "desk password 42")
    assert not _logs_in(path, "desk", "the same for everyone")


def test_a_short_or_missing_piped_password_creates_no_one(tmp_path, monkeypatch, capsys):
    path = str(tmp_path / "r.sqlite3")
    _stdin(monkeypatch, "short\n")
    assert main(["--db", path, "--create", "users", "init", "boss", "--password-stdin"]) == 1
    err = capsys.readouterr().err
    assert "--password-stdin: A password needs at least 10 characters." in err and "short" not in err.split(":", 1)[1]
    _stdin(monkeypatch, "")
    assert main(["--db", path, "users", "init", "boss", "--password-stdin"]) == 1
    assert "standard input held no password" in capsys.readouterr().err
    monkeypatch.setenv(auth_cli.PASSWORD_ENV, "short")
    assert main(["--db", path, "users", "init", "boss"]) == 1
    assert "$PANELMANAGER_PASSWORD: A password needs at least 10 characters." in capsys.readouterr().err
    registry = open_registry(path)
    with registry.session() as session:
        assert not auth.has_users(session)
    registry.close()


def test_password_stdin_refuses_a_terminal(tmp_path, monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdin", Terminal(PASSWORD + "\n"))
    assert main(["--db", str(tmp_path / "r.sqlite3"), "--create", "users", "init", "boss", "--password-stdin"]) == 1
    assert "leave it out and type the password when asked" in capsys.readouterr().err


def test_a_terminal_still_asks_twice(tmp_path, monkeypatch, capsys):
    asked: list[str] = []
    monkeypatch.setattr("getpass.getpass", lambda prompt="": asked.append(prompt) or PASSWORD)
    assert main(["--db", str(tmp_path / "r.sqlite3"), "--create", "users", "init", "boss"]) == 0
    assert asked == ["Password for the administrator boss: ", "Type it again: "]
