"""The one rule behind a preselected PCP: an open panel that fits the patient's age, else nobody."""

from __future__ import annotations

from panelmanager.core.panel_fit import default_pcp, panel_fit
from panelmanager.core.schedule import PanelProvider

FAMILY = PanelProvider(1, "Dr. Ann Lee", True, "FAMILY PRACTICE")
KIDS = PanelProvider(2, "Dr. Kim Kidd", True, "Pediatrics")
CLOSED = PanelProvider(3, "Dr. Bo Park", False, "FAMILY PRACTICE")
INTERNIST = PanelProvider(4, "Dr. Ivy Int", True, "Internal Medicine")
CHOICES = [FAMILY, KIDS, CLOSED, INTERNIST]


def test_age_limits_and_closed_panels():
    assert panel_fit(True, "Pediatrics", 8).fits and panel_fit(True, "pediatrics", 21).fits
    assert panel_fit(True, "Pediatrics", 33).reason == "the panel is Pediatrics (up to age 21); the patient is 33"
    assert panel_fit(True, "Internal Medicine", 12).reason == "the panel is Internal Medicine (from age 18); the patient is 12"
    assert panel_fit(True, "FAMILY PRACTICE", 1).fits and panel_fit(True, None, 50).fits
    assert panel_fit(False, "FAMILY PRACTICE", 40).reason == "the panel is closed"
    assert not panel_fit(True, "Pediatrics", None).fits  # unknown age: a pediatric panel is not assumed


def test_the_default_is_the_first_candidate_that_fits_or_nobody():
    assert default_pcp(CHOICES, [KIDS.id, FAMILY.id], 33) == FAMILY.id  # the 33-year-old never lands on pediatrics
    assert default_pcp(CHOICES, [KIDS.id], 33) is None
    assert default_pcp(CHOICES, [CLOSED.id, None], 40) is None
    assert default_pcp(CHOICES, [KIDS.id, FAMILY.id], 6) == KIDS.id
    assert default_pcp(CHOICES, [FAMILY.id], 40, exclude=FAMILY.id) is None  # already their PCP
    assert default_pcp(CHOICES, [99], 40) is None  # not a panel holder
