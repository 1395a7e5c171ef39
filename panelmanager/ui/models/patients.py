"""PatientTableModel: patients matching a search, as ids, rows fetched as shown."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, Qt

from panelmanager.core.patients import patient_rows
from panelmanager.ui.models.base import Column, IdTableModel


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
        Column("pcp", _tr("PCP")),
        Column("status", _tr("Status"), "status"),
    ]


class PatientTableModel(IdTableModel):
    """Rows are fetched through ``fetch_rows(ids)`` so screens can add columns (PCP, gaps)."""

    def __init__(self, ctx, id_query: Callable, extra_rows: Callable | None = None, columns=None, parent=None) -> None:
        self.ctx = ctx
        self._extra_rows = extra_rows

        def fetch(ids):
            with ctx.registry.session() as session:
                rows = patient_rows(session, list(ids), ctx.as_of)
                if self._extra_rows:
                    self._extra_rows(session, rows)
            return rows

        super().__init__(columns or patient_columns(), id_query, fetch, parent)
