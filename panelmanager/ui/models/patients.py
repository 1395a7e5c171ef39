"""PatientTableModel: patients matching a search and filters, as ids, rows fetched as shown.

The id query is one SQL statement (``core.patient_view.patient_list_query``) that also
sorts, so a list of 100,000 patients scrolls and re-sorts without loading them; each
page of 50 rows is fetched with its PCP, confirmation, risk tier and open-gap count
(``core.patient_view.patient_list_rows``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QColor

from panelmanager.core.patient_view import PatientFilters, patient_list_ids, patient_list_rows, risk_tier_choices
from panelmanager.core.patients import patient_rows
from panelmanager.ui.models.base import Column, IdTableModel, Row


def _tr(text: str) -> str:
    return QCoreApplication.translate("PatientTableModel", text)


def patient_columns() -> list[Column]:
    right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
    return [
        Column("name", _tr("Name"), "name"),
        Column("dob", _tr("DOB"), "dob"),
        Column("age", _tr("Age"), "dob", right),
        Column("sex", _tr("Sex")),
        Column("mrn", _tr("MRN"), "mrn"),
        Column("phone", _tr("Phone")),
        Column("language", _tr("Language")),
        Column("pcp", _tr("PCP"), "pcp"),
        Column("status", _tr("Status"), "status"),
    ]


def search_columns() -> list[Column]:
    """The check-in search results: enough to tell two patients of the same name apart
    (``patient_columns`` without the language)."""
    return [column for column in patient_columns() if column.key != "language"]


def list_columns() -> list[Column]:
    """The Patients screen's list."""
    right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
    centre = Qt.AlignmentFlag.AlignCenter
    return [
        Column("name", _tr("Name"), "name"),
        Column("dob", _tr("DOB"), "dob"),
        Column("age", _tr("Age"), "dob", right),
        Column("sex", _tr("Sex"), None, centre),
        Column("mrn", _tr("MRN"), "mrn"),
        Column("pcp", _tr("PCP"), "pcp"),
        Column("confirmed_text", _tr("Confirmed by")),
        Column("tier_text", _tr("Risk"), "tier"),
        Column("gaps_text", _tr("Open gaps"), "gaps", centre),
        Column("status", _tr("Status"), "status"),
    ]


def confirmed_text(confirmed: str | None) -> str:
    return {
        None: "",
        "": _tr("not yet"),
        "patient": _tr("patient"),
        "provider": _tr("provider"),
        "patient and provider": _tr("patient and provider"),
    }.get(confirmed, confirmed or "")


_TIER_COLOURS = {1: "#1b7a3a", 2: "#6b6b00", 3: "#b35c00", 4: "#b3261e"}


class PatientTableModel(IdTableModel):
    """Patients as ids from one SQL query; rows fetched a page at a time.

    Give ``id_query`` (``(sort_key, descending) -> ids``) for a list of your own, or leave
    it out and call ``set_filters(PatientFilters(...))``: the model then runs
    ``patient_list_query`` as of ``ctx.as_of``. ``extra_rows(session, rows)`` may add
    columns to a fetched page; by default the PCP, confirmation, risk tier and open
    gaps are added.
    """

    # A page is the patients plus their PCP, confirmation, risk tier and open gaps (five
    # queries): 50 rows fill the list, so a keystroke fetches no more before it paints.
    FETCH_ROWS = 50

    def __init__(
        self,
        ctx,
        id_query: Callable | None = None,
        extra_rows: Callable | None = None,
        columns=None,
        parent=None,
    ) -> None:
        self.ctx = ctx
        self._extra_rows = extra_rows
        self._filters = PatientFilters()
        self._tier_labels = dict(risk_tier_choices())

        def fetch(ids):
            with ctx.registry.session() as session:
                rows = patient_rows(session, list(ids), ctx.as_of)
                if self._extra_rows:
                    self._extra_rows(session, rows)
                else:
                    self._add_list_columns(session, rows)
            return rows

        super().__init__(columns or patient_columns(), id_query or self._filtered_ids, fetch, parent)
        self.foreground = self._foreground
        self.tooltip = self._tooltip

    # -- filters
    @property
    def filters(self) -> PatientFilters:
        return self._filters

    def set_filters(self, filters: PatientFilters) -> None:
        """Show the patients matching ``filters`` (re-runs the id query in SQL)."""
        self._filters = filters
        self._query = self._filtered_ids
        self.reload()

    def update_filters(self, **changes) -> None:
        self.set_filters(dataclasses.replace(self._filters, **changes))

    def _filtered_ids(self, sort_key: str | None, descending: bool) -> list[int]:
        with self.ctx.registry.session() as session:
            return patient_list_ids(session, self._filters, self.ctx.as_of, sort=sort_key or "name", descending=descending)

    # -- rows
    def _add_list_columns(self, session, rows: dict[int, Row]) -> None:
        extra = patient_list_rows(session, list(rows), self.ctx.as_of)
        for pid, row in rows.items():
            more = extra.get(pid, {})
            row.update(more)
            row["pcp"] = more.get("pcp") or _tr("Unassigned")
            row["confirmed_text"] = confirmed_text(more.get("confirmed"))
            tier = more.get("tier")
            if tier is None:
                row["tier_text"] = ""
            else:
                row["tier_text"] = f"{tier} {self._tier_labels.get(tier, '')}".strip() + ("*" if more.get("tier_overridden") else "")
            gaps = more.get("open_gaps")
            row["gaps_text"] = "" if gaps is None else str(gaps)

    def _foreground(self, row: Row, column: Column):
        if column.key == "pcp" and row.get("pcp_id") is None and "pcp_id" in row:
            return QColor("#b3261e")
        if column.key == "tier_text" and row.get("tier") is not None:
            return QColor(_TIER_COLOURS.get(row["tier"], "#000000"))
        if column.key == "gaps_text" and (row.get("open_gaps") or 0) > 0:
            return QColor("#b3261e")
        if column.key == "status" and row.get("status") != "active":
            return QColor("#6b6b6b")
        return None

    def _tooltip(self, row: Row, column: Column) -> str | None:
        if column.key == "tier_text" and row.get("tier_overridden"):
            return _tr("Risk tier set by hand (override); the patient view shows why.")
        if column.key == "pcp" and row.get("pcp_id") is None and "pcp_id" in row:
            return _tr("On no provider's panel.")
        return None
