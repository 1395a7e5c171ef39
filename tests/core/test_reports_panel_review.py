"""The provider panel review list: the panel on paper with Mine / Not mine tick boxes."""

from __future__ import annotations

import datetime as dt

from pypdf import PdfReader

from panelmanager.core import models as m
from panelmanager.core.reports.common import Letterhead
from panelmanager.core.reports.panel_review import build_panel_review_pdf, load_panel_review

AS_OF = dt.date(2024, 3, 1)


def test_the_panel_list_shows_each_assigned_patient_with_the_last_visit(fresh_registry, tmp_path):
    with fresh_registry.session() as session:
        ana = m.Provider(source="t", external_id="P1", display_name="Ana Alvarez, MD")
        ben = m.Provider(source="t", external_id="P2", display_name="Ben Brown, NP")
        session.add_all([ana, ben])
        session.flush()
        now = dt.datetime(2024, 1, 1)
        for i, (first, last, provider, confirmed) in enumerate(
            [("María", "Núñez", ana, True), ("John", "Smith", ana, False), ("Ann", "Other", ben, False)], start=1
        ):
            p = m.Patient(mrn=f"M{i}", first_name=first, last_name=last, dob=dt.date(1960, 1, i), sex="F",
                          source="t", status="active")
            session.add(p)
            session.flush()
            session.add(m.Assignment(patient_id=p.id, provider_id=provider.id, cut="2", reason=f"{i} of {i} visits",
                                     assigned_on=now.date(), assigned_at=now,
                                     provider_confirmed_on=now.date() if confirmed else None))
            session.add(m.Visit(patient_id=p.id, provider_id=ben.id if i == 2 else ana.id, source="t",
                                external_id=f"V{i}", start=dt.datetime(2023, 6, i, 9), visit_class="ambulatory",
                                status="completed"))
        session.flush()
        panel = load_panel_review(session, ana.id, AS_OF)
    assert [r.name for r in panel.rows] == ["Núñez, María", "Smith, John"]
    assert panel.rows[1].last_visit == dt.date(2023, 6, 2) and panel.rows[1].last_visit_provider == "Ben Brown, NP"
    out = tmp_path / "panel.pdf"
    result = build_panel_review_pdf(panel, out, letterhead=Letterhead("Riverside"))
    assert result.items == 2
    text = " ".join(PdfReader(str(out)).pages[0].extract_text().split())  # cells wrap; compare words
    for expected in ("Panel review: Ana Alvarez, MD", "Núñez, María", "Smith, John", "Mine", "Not mine",
                     "2023-06-02", "Ben Brown, NP", "Confirmed by provider", "Not confirmed", "2 of 2 visits",
                     "Reviewed by", "Confidential: contains PHI", "Page 1 of 1"):
        assert expected in text, expected
    assert "Other, Ann" not in text
