"""The role x action matrix of resources/permissions.toml: every role, every action, allowed or
refused with a message that names the role and who to ask; break-glass where the file allows it;
and the services' own checks (``require_current``) under ``acting_as``."""

from __future__ import annotations

import pytest

from panelmanager.core.permissions import (
    ACTIONS,
    ROLES,
    SYSTEM,
    Actor,
    PermissionDenied,
    acting_as,
    load_permissions,
    require,
    require_current,
    strict_permissions,
)

Y, N = True, False
# The policy, written out so a change to permissions.toml is a deliberate change to this table too.
#                  front_desk ma_nurse provider manager admin
EXPECTED = {
    "import":        (N, N, N, Y, Y),
    "assign":        (N, N, N, Y, Y),
    "review_accept": (N, N, N, Y, Y),
    "confirm":       (Y, Y, Y, Y, Y),
    "reassign":      (Y, Y, Y, Y, Y),
    "risk_override": (N, Y, Y, N, Y),
    "print":         (N, Y, Y, Y, Y),
    "letters":       (N, N, N, Y, Y),
    "export":        (N, N, N, Y, Y),
    "outreach_log":  (Y, Y, Y, Y, Y),
    "settings":      (N, N, N, Y, Y),
    "users":         (N, N, N, N, Y),
    "audit_view":    (N, N, N, Y, Y),
    "backup":        (N, N, N, Y, Y),
    "restore":       (N, N, N, N, Y),
    "view_patient":  (Y, Y, Y, Y, Y),
    "search":        (Y, Y, Y, Y, Y),
}
BREAK_GLASS = {"review_accept", "risk_override", "print", "letters", "export"}


def actor(role: str) -> Actor:
    return Actor(user_id=1, username=f"u_{role}", display_name=role, role=role, workstation="desk-1")


def test_the_matrix_names_every_action_and_role():
    assert set(EXPECTED) == set(ACTIONS)
    matrix = load_permissions()
    assert {a for a in ACTIONS if matrix.break_glass(a)} == BREAK_GLASS


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS)
def test_role_action(role, action):
    allowed = EXPECTED[action][ROLES.index(role)]
    label = load_permissions().label(role)
    if allowed:
        assert require(actor(role), action) is False
        return
    with pytest.raises(PermissionDenied) as refused:
        require(actor(role), action)
    message = str(refused.value)
    assert message.startswith(f"Your role ({label}) cannot ")
    assert "Ask a" in message  # who can: "Ask a manager." / "Ask an administrator."
    assert refused.value.action == action and refused.value.role == role
    # The same through a service's own one-line check.
    with acting_as(actor(role)), pytest.raises(PermissionDenied):
        require_current(action)


def test_messages_read_well():
    with pytest.raises(PermissionDenied, match=r"^Your role \(front desk\) cannot accept panel reviews\. Ask a manager\."):
        require(actor("front_desk"), "review_accept")
    with pytest.raises(PermissionDenied, match=r"^Your role \(manager\) cannot manage user accounts\. Ask an administrator\.$"):
        require(actor("manager"), "users")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS)
def test_break_glass(role, action):
    allowed = EXPECTED[action][ROLES.index(role)]
    if allowed:
        assert require(actor(role), action, emergency_reason="patient collapsed") is False  # not an emergency use
    elif action in BREAK_GLASS:
        assert require(actor(role), action, emergency_reason="on-call, no manager in") is True
    else:
        with pytest.raises(PermissionDenied, match="not even with emergency access"):
            require(actor(role), action, emergency_reason="please")


def test_blank_reason_is_no_break_glass():
    with pytest.raises(PermissionDenied):
        require(actor("front_desk"), "print", emergency_reason="   ")


def test_unknown_action_is_a_programming_error():
    with pytest.raises(ValueError, match="not an action"):
        require(actor("admin"), "launch_rockets")


def test_no_actor_is_permitted_unless_strict():
    require_current("users")  # existing callers (tests, internal work) have no actor: permitted
    strict_permissions(True)
    try:
        with pytest.raises(PermissionDenied, match="Log in first"):
            require_current("users")
        with acting_as(SYSTEM):
            require_current("restore")
    finally:
        strict_permissions(False)
    with pytest.raises(PermissionDenied, match="Log in first"):
        require(None, "search")
