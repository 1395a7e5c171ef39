"""The provider panel review list: a provider's panel on paper, to tick "mine" or "not mine".

Empanelment asks each provider to confirm their panel. This list shows every patient
assigned to the provider (name, MRN, date of birth, age/sex, the last completed visit
and with whom, the assignment status and why the patient was assigned) with two tick
boxes and room to write who the patient's PCP really is. The answers are recorded as
provider confirmations (``core.empanelment.confirm_assignment``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

import pandas as pd
from reportlab.platypus import Flowable, Paragraph, Spacer
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from panelmanager.core import models
from panelmanager.core.documents import DocumentResult
from panelmanager.core.people import PatientIdentity, age_on, iso, long_date, sorted_name
from panelmanager.core.reports.common import (
    FontSet,
    Letterhead,
    Output,
    build_list_pdf,
    fonts,
    list_styles,
    list_table,
    pdf_text,
    section_marker,
)
from panelmanager.core.visibility import visible

__all__ = ["PanelReviewList", "PanelReviewRow", "build_panel_review_pdf", "load_panel_review"]

STATUS_TEXT = {
    "confirmed": "Confirmed",
    "provider-confirmed": "Confirmed by provider",
    "patient-confirmed": "Confirmed by patient",
    "assigned": "Not confirmed",
    "unassigned": "Unassigned",
}


@dataclass
class PanelReviewRow(PatientIdentity):
    last_visit: dt.date | None
    last_visit_provider: str | None
    status: str
    reason: str | None = None


@dataclass
class PanelReviewList:
    provider_id: int
    provider_name: str
    as_of: dt.date
    rows: list[PanelReviewRow] = field(default_factory=list)


def _last_visits(session: Session, as_of: dt.date) -> pd.DataFrame:
    v, pr = models.Visit, models.Provider
    end = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time())
    done = and_(v.status == models.VisitStatus.COMPLETED.value, v.start < end, visible(v))
    latest = select(v.patient_id, func.max(v.start).label("at")).where(done).group_by(v.patient_id).subquery()
    stmt = (
        select(v.patient_id, v.start, pr.display_name)
        .join(latest, and_(v.patient_id == latest.c.patient_id, v.start == latest.c.at))
        .outerjoin(pr, pr.id == v.provider_id)
        .where(done)
    )
    frame = pd.DataFrame.from_records(session.execute(stmt).all(), columns=["patient_id", "last_visit", "seen_by"])
    return frame.drop_duplicates("patient_id")


def load_panel_review(session: Session, provider_id: int, as_of: dt.date) -> PanelReviewList:
    """Every active patient on ``provider_id``'s panel, in name order, with their last visit."""
    from panelmanager.core.empanelment import assignments_frame

    provider = session.get(models.Provider, provider_id)
    if provider is None:
        raise ValueError(f"there is no provider with id {provider_id}.")
    panel = assignments_frame(session, provider_id=provider_id, as_of=as_of)
    visits = _last_visits(session, as_of)
    panel = panel.merge(visits, on="patient_id", how="left")
    rows = []
    for r in panel.itertuples(index=False):
        dob = None if pd.isna(r.dob) else r.dob
        last = None if pd.isna(r.last_visit) else pd.Timestamp(r.last_visit).date()
        rows.append(
            PanelReviewRow(
                patient_id=int(r.patient_id),
                mrn=str(r.mrn),
                name=sorted_name(r.first_name, r.last_name),
                dob=dob,
                age=age_on(dob, as_of) if dob else None,
                sex="" if pd.isna(r.sex) else str(r.sex),
                last_visit=last,
                last_visit_provider=None if pd.isna(r.seen_by) else str(r.seen_by),
                status=str(r.status),
                reason=None if pd.isna(r.reason) else str(r.reason),
            )
        )
    return PanelReviewList(provider_id, provider.display_name, as_of, rows)


class _Box(Flowable):
    def __init__(self, size: float = 9) -> None:
        super().__init__()
        self.size = size

    def wrap(self, availWidth, availHeight):  # noqa: N803
        return self.size, self.size

    def draw(self) -> None:
        self.canv.setLineWidth(0.8)
        self.canv.rect(0, 0, self.size, self.size)


def build_panel_review_pdf(
    panel: PanelReviewList,
    out: Output,
    *,
    letterhead: Letterhead | None = None,
    fontset: FontSet | None = None,
) -> DocumentResult:
    """The panel review list as a landscape PDF (tick boxes "Mine" / "Not mine", a note column, sign-off)."""
    f = fontset or fonts()
    practice = letterhead.practice_name if letterhead else ""
    st = list_styles(f)
    base, head, big, note = st.base, st.head, st.big, st.note

    def x(text) -> str:
        return escape(pdf_text(text, f))

    title = f"Panel review: {panel.provider_name}"
    story: list = [
        section_marker(panel.provider_name),
        Paragraph(x(title), big),
        Paragraph(
            x(f"{long_date(panel.as_of)} · {len(panel.rows)} patient{'s' if len(panel.rows) != 1 else ''} "
              "on this panel")
            + "<br/>"
            + x("For each patient tick Mine or Not mine. For Not mine, write the patient's PCP if you know it. "
                "Return the signed list to the practice manager."),
            note,
        ),
    ]
    columns = (("Patient", 150), ("DOB", 58), ("Age/Sex", 48), ("Last visit", 114), ("Status", 104),
               ("Why assigned", 108), ("Mine", 32), ("Not mine", 40), ("PCP if not mine / note", 80.4))
    data: list[list] = [[Paragraph(x(name), head) for name, _w in columns]]
    for r in panel.rows:
        last = ""
        if r.last_visit:
            last = iso(r.last_visit) + (f"<br/><font size=7.5 color='#555555'>{x(r.last_visit_provider)}</font>"
                                        if r.last_visit_provider else "")
        data.append(
            [
                Paragraph(f"<b>{x(r.name)}</b><br/><font size=7.5 color='#555555'>MRN {x(r.mrn)}</font>", base),
                iso(r.dob),
                f"{'' if r.age is None else r.age}{'/' if r.sex else ''}{r.sex}",
                Paragraph(last or "-", base),
                Paragraph(x(STATUS_TEXT.get(r.status, r.status)), base),
                Paragraph(f"<font size=7.5>{x(r.reason or '')}</font>", base),
                _Box(),
                _Box(),
                "",
            ]
        )
    if len(data) == 1:
        story.append(Paragraph(x("No patients are assigned to this provider."), base))
    else:
        story.append(
            list_table(
                data,
                [w for _n, w in columns],
                extra_style=[("FONT", (0, 0), (-1, -1), f.regular, 8.3), ("ALIGN", (6, 1), (7, -1), "CENTER")],
            )
        )
    story.append(Spacer(1, 22))
    story.append(Paragraph(x("Reviewed by: ______________________________    Date: ______________"), base))
    pages = build_list_pdf(out, story, title=title, practice=practice, fontset=f,
                           right_title=lambda _section: f"Panel review · {panel.provider_name} · {iso(panel.as_of)}")
    return DocumentResult(kind="panel-review", pages=pages, items=len(panel.rows), patients=len(panel.rows))
