"""Empanelment: every active patient on one provider's panel, confirmed and reviewed.

The 4-cut assignment engine and the services around it, one module per concern:

- ``rules``: who can hold a panel, which visits count, the look-back window;
- ``cuts``: visits per (patient, provider), the four cuts and their reasons;
- ``proposals``: the engine (``propose_assignments``), run as named steps, writing nothing;
- ``reviews``: stored reviews, accepting and rejecting their items;
- ``changes``: the one writer of assignment changes and their history;
- ``assignments``: one patient's panel (reassign, confirm, preference, history);
- ``inactivation``: suggestions and taking patients off the panels;
- ``lists``: panel lists, the PM export, provider and patient lookups;
- ``base``: the shared vocabulary, the error and column-wise reads.

Callers import from ``panelmanager.core.empanelment``; the names below are the public API.
Services take a ``Session`` and return small dataclasses; the caller owns the transaction.
"""

from panelmanager.core.empanelment.assignments import (
    AssignmentChange,
    AssignmentInfo,
    ConfirmationResult,
    HistoryEntry,
    assignment_for,
    assignment_history,
    clear_preference,
    confirm_assignment,
    reassign_patient,
    set_preference,
)
from panelmanager.core.empanelment.base import (
    ACTIONABLE_KINDS,
    CUT_KEPT,
    CUT_MANUAL,
    CUT_PREFERENCE,
    METHODS,
    NO_PROVIDER,
    PARTIES,
    PATIENT_OUTCOMES,
    PROVIDER_OUTCOMES,
    EmpanelmentError,
)
from panelmanager.core.empanelment.cuts import cut_reasons, four_cut, qualifying_visit_pairs
from panelmanager.core.empanelment.inactivation import (
    InactivationResult,
    InactivationSuggestion,
    inactivate_patients,
    suggest_inactivations,
)
from panelmanager.core.empanelment.lists import EXPORT_COLUMNS, assignments_frame, export_assignments
from panelmanager.core.empanelment.proposals import propose_assignments
from panelmanager.core.empanelment.reviews import (
    ReviewDecision,
    ReviewInfo,
    ReviewSummary,
    accept_review_items,
    build_review,
    list_reviews,
    reject_review_items,
    review_items,
)
from panelmanager.core.empanelment.rules import PanelRules, load_panel_rules, panel_providers, window_start_for

__all__ = [
    "EmpanelmentError",
    "PanelRules",
    "load_panel_rules",
    "panel_providers",
    "window_start_for",
    "qualifying_visit_pairs",
    "four_cut",
    "cut_reasons",
    "propose_assignments",
    "ReviewSummary",
    "build_review",
    "ReviewDecision",
    "accept_review_items",
    "reject_review_items",
    "ReviewInfo",
    "list_reviews",
    "review_items",
    "AssignmentChange",
    "reassign_patient",
    "ConfirmationResult",
    "confirm_assignment",
    "set_preference",
    "clear_preference",
    "AssignmentInfo",
    "assignment_for",
    "HistoryEntry",
    "assignment_history",
    "InactivationSuggestion",
    "suggest_inactivations",
    "InactivationResult",
    "inactivate_patients",
    "assignments_frame",
    "EXPORT_COLUMNS",
    "export_assignments",
    "ACTIONABLE_KINDS",
    "CUT_KEPT",
    "CUT_MANUAL",
    "CUT_PREFERENCE",
    "METHODS",
    "NO_PROVIDER",
    "PARTIES",
    "PATIENT_OUTCOMES",
    "PROVIDER_OUTCOMES",
]
