"""Shared by the issue-14 tests: a cheap argon2 hasher and users of every role."""

from __future__ import annotations

from argon2 import PasswordHasher

PASSWORD = "correct horse battery"
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def fast_hashing(monkeypatch) -> None:
    """argon2id with tiny costs: the same algorithm, a test-suite speed."""
    from panelmanager.core import auth

    monkeypatch.setattr(auth, "HASHER", FAST_HASHER)
    auth._DUMMY.clear()


def make_users(registry) -> dict:
    """An administrator and one user per role; returns role -> Actor (the admin as 'admin')."""
    from panelmanager.core import auth
    from panelmanager.core.permissions import ROLES

    with registry.write_session() as session:
        admin = auth.create_first_admin(session, "admin", "Ada Admin", PASSWORD)
        actors = {"admin": admin}
        for role in ROLES:
            if role == "admin":
                continue
            auth.create_user(session, admin, role.replace("_", ""), f"User {role}", role, PASSWORD)
    for role in ROLES:
        if role != "admin":
            actors[role] = auth.login(registry, role.replace("_", ""), PASSWORD)
    return actors
