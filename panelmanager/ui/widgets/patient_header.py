"""The patient header every patient view shows: the name (large, bold, selectable) over one
line of facts ("MRN 123 · DOB 1960-04-02 (63) · female ..."). Used by the check-in confirm
panel and the Patients screen's record, so both read the same."""

from __future__ import annotations

import datetime as dt

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget


def patient_facts(mrn: str | None, dob: dt.date | None, age: int | None, sex: str | None, *more: str | None) -> str:
    """"MRN 123  ·  DOB 1960-04-02 (63)  ·  female", then any further facts given (empty ones skipped)."""
    tr = QCoreApplication.translate
    parts = [tr("PatientHeader", "MRN {0}").format(mrn)]
    if dob is not None:
        parts.append(tr("PatientHeader", "DOB {0} ({1})").format(dob.isoformat(), age))
    if sex:
        parts.append(sex)
    parts.extend(str(fact) for fact in more if fact)
    return "  ·  ".join(parts)


class PatientHeader(QWidget):
    """Name and facts labels (``name_label``, ``facts_label``); the object names keep each view's style."""

    def __init__(self, name_object: str, facts_object: str, *, spacing: int = 4, selectable_facts: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(spacing)
        self.name_label = QLabel()
        self.name_label.setObjectName(name_object)
        font = self.name_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        self.name_label.setFont(font)
        self.name_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts_label = QLabel()
        self.facts_label.setObjectName(facts_object)
        self.facts_label.setWordWrap(True)
        if selectable_facts:
            self.facts_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.name_label)
        layout.addWidget(self.facts_label)

    def set_patient(self, name: str, facts: str) -> None:
        self.name_label.setText(name)
        self.facts_label.setText(facts)
