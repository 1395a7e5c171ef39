"""Table models of the Panels screen.

- ``RecordTableModel``: rows the core returned whole (a provider's panel, inactivation
  suggestions, unassigned visitors), sorted in memory; lists of that size stay small.
- ``ReviewItemTableModel``: an assignment review's items as ids (``IdTableModel``):
  filtered by kind and decision and sorted in SQL, rows fetched a page at a time, so a
  first review of 100,000 new assignments scrolls like a short one.
- ``CapacityTableModel``: one row per provider (raw, weighted, target, % of target for
  the bar delegate, continuity) with the panel's open/closed switch, saved at once
  through ``core.providers.update_provider``.
- ``UnassignedVisitorTableModel``, ``InactivationTableModel``, ``ProviderPanelTableModel``:
  ``RecordTableModel`` with their columns.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd
from PySide6.QtCore import QAbstractTableModel, QCoreApplication, QModelIndex, Qt, Signal
from PySide6.QtGui import QBrush, QColor

from panelmanager.core.capacity import PanelCapacityRow
from panelmanager.core.panel_lists import review_item_ids, review_item_rows
from panelmanager.core.providers import update_provider
from panelmanager.ui.models.base import Column, IdTableModel, RecordTableModel, Row, display_value
from panelmanager.ui.models.base import sort_value as _sort_value  # noqa: F401  (tests and older callers)
from panelmanager.ui.widgets.charts import PERCENT_ROLE

RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
CENTER = Qt.AlignmentFlag.AlignCenter


def _tr(text: str) -> str:
    return QCoreApplication.translate("PanelModels", text)


# --------------------------------------------------------------------------- review items


def kind_label(kind: str | None, held: bool = False) -> str:
    labels = {
        "new": _tr("New"),
        "change": _tr("Change"),
        "drop": _tr("Drop"),
        "unassigned": _tr("Needs assignment"),
    }
    text = labels.get(kind or "", kind or "")
    if kind == "change" and held:
        text = _tr("Change (held)")
    return text


def decision_label(decision: str | None) -> str:
    labels = {
        "pending": _tr("Pending"),
        "accepted": _tr("Accepted"),
        "rejected": _tr("Rejected"),
        "kept": _tr("Kept as it was"),
        "stale": _tr("Skipped (panel changed)"),
        "superseded": _tr("Superseded"),
        "info": _tr("For information"),
    }
    return labels.get(decision or "", decision or "")


def cut_label(cut: str | None) -> str:
    labels = {
        "1": _tr("1: only provider seen"),
        "2": _tr("2: most visits"),
        "3": _tr("3: last physical"),
        "4": _tr("4: last visit"),
        "preference": _tr("Patient's preference"),
        "kept": _tr("Kept"),
        "manual": _tr("Manual"),
    }
    return labels.get(cut or "", cut or "")


KIND_COLOURS = {"new": QColor("#1e7b45"), "change": QColor("#9a6700"), "drop": QColor("#b42318"), "unassigned": QColor("#5b6770")}


def review_columns() -> list[Column]:
    return [
        Column("kind_label", _tr("Proposal"), "kind"),
        Column("patient", _tr("Patient"), "patient"),
        Column("mrn", _tr("MRN"), "mrn"),
        Column("old_label", _tr("Now on panel of"), "from"),
        Column("new_label", _tr("Proposed"), "to"),
        Column("cut_label", _tr("Cut"), "cut"),
        Column("reason", _tr("Why"), "reason"),
        Column("decision_label", _tr("Decision"), "decision"),
    ]


class ReviewItemTableModel(IdTableModel):
    """One review's items: ids from ``core.panel_lists.review_item_ids``, rows a page at a time."""

    def __init__(self, ctx, parent=None) -> None:
        self.ctx = ctx
        self.review_id: int | None = None
        self.kinds: tuple[str, ...] | None = ("new", "change", "drop")
        self.decisions: tuple[str, ...] | None = ("pending",)

        def query(sort_key: str | None, descending: bool) -> list[int]:
            if self.review_id is None:
                return []
            with ctx.registry.session() as session:
                return self.read_ids(session, self.review_id, self.kinds, self.decisions)

        def fetch(ids) -> dict[int, dict]:
            with ctx.registry.session() as session:
                rows = review_item_rows(session, ids)
            for row in rows.values():
                row["kind_label"] = kind_label(row["kind"], row["held"])
                row["decision_label"] = decision_label(row["decision"])
                row["cut_label"] = cut_label(row["cut"])
                row["old_label"] = row["old_provider"] or _tr("(no panel)")
                if row["kind"] == "drop":
                    row["new_label"] = _tr("(off the panels)")
                elif row["kind"] == "unassigned":
                    row["new_label"] = _tr("(no qualifying visit)")
                else:
                    row["new_label"] = row["new_provider"] or ""
            return rows

        super().__init__(review_columns(), query, fetch, parent)
        self.foreground = self._foreground
        self.tooltip = self._tooltip

    def read_ids(self, session, review_id: int | None, kinds: Sequence[str] | None, decisions: Sequence[str] | None) -> list[int]:
        """The ids this model would list for that filter, in its current order (callable from a job)."""
        if review_id is None:
            return []
        sort_key, descending = self.sort_order()
        return review_item_ids(
            session, review_id, kinds=tuple(kinds) if kinds else None, decisions=tuple(decisions) if decisions else None,
            sort=sort_key or "patient", descending=descending,
        )

    def set_filter(
        self, review_id: int | None, kinds: Sequence[str] | None, decisions: Sequence[str] | None, ids: Sequence[int] | None = None
    ) -> None:
        """Show one review's items; ``ids`` when a job already read them for this filter (no query here)."""
        self.review_id = review_id
        self.kinds = tuple(kinds) if kinds else None
        self.decisions = tuple(decisions) if decisions else None
        if ids is None:
            self.reload()
        else:
            self.set_ids(ids)

    def _foreground(self, row: dict, column: Column):
        if column.key == "kind_label":
            return QBrush(KIND_COLOURS.get(row["kind"], QColor("#24323c")))
        if column.key == "decision_label" and row["decision"] in ("rejected", "stale"):
            return QBrush(QColor("#b42318"))
        if column.key == "decision_label" and row["decision"] in ("accepted", "kept"):
            return QBrush(QColor("#1e7b45"))
        return None

    def _tooltip(self, row: dict, column: Column) -> str | None:
        if row["kind"] == "change" and row["held"]:
            return _tr(
                "The current assignment was confirmed by the patient or the provider. "
                "Accepting all pending items keeps it; accept this item by itself to move the patient."
            )
        if column.key == "reason":
            return row["reason"]
        return None


# --------------------------------------------------------------------------- capacity


class CapacityTableModel(QAbstractTableModel):
    """Providers' panels against their targets; the "Open" column switches a panel open/closed."""

    PROVIDER_ROLE = Qt.ItemDataRole.UserRole + 1
    open_changed = Signal(int, bool)  # provider id, now open

    KEYS = (
        "name", "specialty", "fte", "assigned", "weighted", "risk_weighted", "target", "percent_of_target",
        "continuity", "provider_confirmed", "open",
    )

    def __init__(self, ctx, parent=None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.rows: list[PanelCapacityRow] = []
        self.continuity: dict[int, float | None] = {}
        self.titles = [
            _tr("Provider"), _tr("Specialty"), _tr("FTE"), _tr("Assigned"), _tr("Weighted"), _tr("Risk-weighted"),
            _tr("Target"), _tr("% of target"), _tr("Continuity"), _tr("Provider-confirmed"), _tr("Panel open"),
        ]

    def set_rows(self, rows: Sequence[PanelCapacityRow], continuity: dict[int, float | None] | None = None) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.continuity = dict(continuity or {})
        self.endResetModel()

    def column_of(self, key: str) -> int:
        return self.KEYS.index(key)

    def row_of(self, provider_id: int) -> int:
        return next((n for n, r in enumerate(self.rows) if r.provider_id == provider_id), -1)

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008,N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008,N802
        return 0 if parent.isValid() else len(self.KEYS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation != Qt.Orientation.Horizontal or not (0 <= section < len(self.KEYS)):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.titles[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            tips = {
                "assigned": _tr("Active patients on the panel (head count)"),
                "weighted": _tr("Panel weighted by each patient's age and sex visit rate"),
                "risk_weighted": _tr("Panel weighted by risk tier (after risk tiers are computed for this date)"),
                "target": _tr("Visits per day x clinic days per year / the practice's visits per patient per year"),
                "percent_of_target": _tr("Weighted panel / target; the mark is 100%"),
                "continuity": _tr("Share of the panel's primary-care visits in the last 12 months that were with this provider"),
                "provider_confirmed": _tr("Patients the provider has marked as theirs"),
                "open": _tr("Open to new patients (Space toggles)"),
            }
            return tips.get(self.KEYS[section])
        return None

    def flags(self, index):
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.isValid() and self.KEYS[index.column()] == "open":
            return base | Qt.ItemFlag.ItemIsUserCheckable
        return base

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        key = self.KEYS[index.column()]
        if role == self.PROVIDER_ROLE:
            return row.provider_id
        if key == "open":
            if role == Qt.ItemDataRole.CheckStateRole:
                return Qt.CheckState.Checked if row.open else Qt.CheckState.Unchecked
            if role == Qt.ItemDataRole.DisplayRole:
                return _tr("Open") if row.open else _tr("Closed")
            if role == Qt.ItemDataRole.ForegroundRole and not row.open:
                return QBrush(QColor("#b42318"))
            return None
        if role == PERCENT_ROLE and key == "percent_of_target":
            return row.percent_of_target
        if role == Qt.ItemDataRole.DisplayRole:
            if key == "percent_of_target":
                return "" if row.percent_of_target is None else f"{row.percent_of_target:.0f}%"
            if key == "continuity":
                share = self.continuity.get(row.provider_id)
                return "" if share is None else f"{100 * share:.0f}%"
            if key == "target":
                return "—" if row.target is None else f"{row.target:,}"
            if key == "provider_confirmed":
                if not row.assigned:
                    return "0"
                return f"{row.provider_confirmed:,} ({100 * row.provider_confirmed / row.assigned:.0f}%)"
            if key == "fte":
                return f"{row.fte:.2f}"
            if key == "risk_weighted":
                return "—" if row.risk_weighted is None else f"{row.risk_weighted:,.1f}"
            return display_value(getattr(row, key))
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter) if key in ("name", "specialty") else int(RIGHT)
        if role == Qt.ItemDataRole.ToolTipRole:
            if key == "name" and not row.holds_panel:
                return _tr("This provider cannot hold a panel (specialty or setting) but still has patients on one.")
            if key == "target":
                return _tr("{0:g} visits/day x {1:g} clinic days / {2:g} visits per patient per year").format(
                    row.visits_per_day, row.clinic_days_per_year, row.visits_per_patient_year
                )
        if role == Qt.ItemDataRole.ForegroundRole and key == "name" and not row.holds_panel:
            return QBrush(QColor("#5b6770"))
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if not index.isValid() or self.KEYS[index.column()] != "open" or role != Qt.ItemDataRole.CheckStateRole:
            return False
        return self.set_open(index.row(), Qt.CheckState(value) == Qt.CheckState.Checked)

    def set_open(self, row_number: int, is_open: bool) -> bool:
        """Open or close a provider's panel to new patients, saved at once."""
        row = self.rows[row_number]
        if row.open == is_open:
            return False
        with self.ctx.registry.session() as session:
            update_provider(session, row.provider_id, panel_open=is_open)
        self.rows[row_number] = dataclasses.replace(row, open=is_open)
        column = self.column_of("open")
        self.dataChanged.emit(self.index(row_number, 0), self.index(row_number, column))
        self.open_changed.emit(row.provider_id, is_open)
        return True


# --------------------------------------------------------------------------- lists


class UnassignedVisitorTableModel(RecordTableModel):
    """Active patients who visit but are on no panel (``core.capacity.unassigned_visiting``)."""

    def __init__(self, parent=None) -> None:
        super().__init__(
            [
                Column("name", _tr("Patient"), "name"),
                Column("mrn", _tr("MRN"), "mrn"),
                Column("visits", _tr("Visits in look-back"), "visits", RIGHT),
                Column("last_visit", _tr("Last visit"), "last_visit"),
                Column("most_seen", _tr("Seen most by"), "most_seen"),
            ],
            parent=parent,
        )

    def set_visitors(self, visitors: Sequence[Any], provider_names: dict[str, str]) -> None:
        rows = []
        for v in visitors:
            row = dataclasses.asdict(v)
            row["most_seen"] = provider_names.get(v.most_seen_provider or "", v.most_seen_provider or "")
            rows.append(row)
        self.set_rows(rows)


INACTIVATION_KINDS = ("deceased", "moved", "inactive", "not-seen")


def inactivation_kind_label(kind: str) -> str:
    return {
        "deceased": _tr("Died"),
        "moved": _tr("Moved"),
        "inactive": _tr("Inactive"),
        "not-seen": _tr("Not seen"),
    }.get(kind, kind)


class InactivationTableModel(RecordTableModel):
    """Patients suggested for inactivation (``core.empanelment.suggest_inactivations``)."""

    def __init__(self, parent=None) -> None:
        super().__init__(
            [
                Column("kind_label", _tr("Why"), "kind"),
                Column("name", _tr("Patient"), "name"),
                Column("mrn", _tr("MRN"), "mrn"),
                Column("reason", _tr("Details"), "reason"),
                Column("last_visit", _tr("Last visit"), "last_visit"),
                Column("panel", _tr("On panel of"), "panel"),
            ],
            parent=parent,
        )

    def set_suggestions(self, suggestions: Sequence[Any], provider_names: dict[str, str]) -> None:
        rows = []
        for s in suggestions:
            row = dataclasses.asdict(s)
            row["kind_label"] = inactivation_kind_label(s.kind)
            row["panel"] = provider_names.get(s.provider or "", s.provider or "")
            rows.append(row)
        self.set_rows(rows)


def provider_answer_label(answer: str | None) -> str:
    return {"mine": _tr("Mine"), "not-mine": _tr("Not mine")}.get(answer or "", "")


def panel_status_label(status: str | None) -> str:
    return {
        "confirmed": _tr("Confirmed by both"),
        "provider-confirmed": _tr("Provider confirmed"),
        "patient-confirmed": _tr("Patient confirmed"),
        "assigned": _tr("Not confirmed yet"),
        "unassigned": _tr("Unassigned"),
    }.get(status or "", status or "")


class ProviderPanelTableModel(RecordTableModel):
    """One provider's panel (``core.panel_lists.provider_panel``) for mine / not mine."""

    def __init__(self, parent=None) -> None:
        super().__init__(
            [
                Column("name", _tr("Patient"), "name"),
                Column("mrn", _tr("MRN"), "mrn"),
                Column("dob", _tr("DOB"), "dob"),
                Column("answer_label", _tr("Provider says"), "answer_label"),
                Column("status_label", _tr("Confirmation"), "status_label"),
                Column("last_seen", _tr("Last seen by this provider"), "last_seen"),
                Column("assigned_on", _tr("On panel since"), "assigned_on"),
                Column("reason", _tr("Why on this panel"), "reason"),
            ],
            parent=parent,
        )
        self.foreground = self._foreground
        self.tooltip = self._tooltip

    def set_panel(self, frame) -> None:
        rows = []
        for record in frame.to_dict("records"):
            for key, value in list(record.items()):
                if value is not None and not isinstance(value, (str, dt.date)) and pd.isna(value):
                    record[key] = None  # NaN / NaT / NA from the frame
            record["answer_label"] = provider_answer_label(record.get("answer"))
            record["status_label"] = panel_status_label(record.get("status"))
            rows.append(record)
        self.set_rows(rows)

    def _foreground(self, row: Row, column: Column):
        if column.key == "answer_label":
            if row.get("answer") == "mine":
                return QBrush(QColor("#1e7b45"))
            if row.get("answer") == "not-mine":
                return QBrush(QColor("#b42318"))
        return None

    def _tooltip(self, row: Row, column: Column) -> str | None:
        if column.key == "answer_label" and row.get("answer"):
            text = _tr("{0} on {1}").format(provider_answer_label(row.get("answer")), display_value(row.get("answered_on")))
            if row.get("answer_reason"):
                text += ": " + row["answer_reason"]
            return text
        if column.key == "reason":
            return row.get("reason")
        return None
