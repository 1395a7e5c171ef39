"""What a printed or exported document reached, independent of how it was drawn.

``DocumentResult`` is what every document writer returns; its ``pairs`` (patient, measure)
are what ``core.outreach.log_document`` records.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from panelmanager.core.people import Contact


def _empty_pairs():
    import pandas as pd

    return pd.DataFrame({"patient_id": pd.Series(dtype="int64"), "measure_id": pd.Series(dtype=object)})


@dataclass
class DocumentResult:
    """What a document builder produced: pages, how many items, and who was left out and why.

    ``pairs`` holds one row per (patient_id, measure_id) the document reached, ready for
    ``core.outreach.log_document``.
    """

    kind: str
    pages: int = 0
    items: int = 0
    patients: int = 0
    skipped: list[tuple[int, str, str, str]] = field(default_factory=list)  # patient_id, mrn, name, reason
    pairs: Any = field(default_factory=_empty_pairs)


def contact_pairs(contacts: Iterable[Contact]):
    """(patient_id, measure_id) for every gap of ``contacts`` (one row with no measure for a gapless contact)."""
    import pandas as pd

    ids: list[int] = []
    measures: list[str | None] = []
    for contact in contacts:
        if not contact.gaps:
            ids.append(contact.patient_id)
            measures.append(None)
        for gap in contact.gaps:
            ids.append(contact.patient_id)
            measures.append(gap.measure_id)
    return pd.DataFrame({"patient_id": pd.Series(ids, dtype="int64"), "measure_id": pd.Series(measures, dtype=object)})
