"""Providers as the practice sees them: the Settings > Providers page and ``panelmanager providers``.

A manager edits each provider's name, NPI, specialty and credentials, FTE, clinic days,
visits per day, whether the panel is open, and whether the provider can hold a panel
(overriding the specialty default). PM scheduler user names (GC_Klein_S) are merged
into the clinician they stand for with ``merge_providers`` (core.provider_merge); merged
providers are listed only on request. ``panel_holder_problem`` says, in staff terms,
why no one can be assigned when no provider holds a panel, and where to fix it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from panelmanager.core.actions import audited_service
from panelmanager.core.models import Provider
from panelmanager.core.permissions import require_current
from panelmanager.core.provider_merge import MergeResult, ProviderMergeError, merge_providers  # noqa: F401 (re-exported)

EDITABLE = (
    "display_name", "npi", "specialty", "credentials",
    "fte", "clinic_days_per_year", "visits_per_day", "panel_open", "can_hold_panel", "active",
)
WHERE_TO_FIX = "Settings > Providers (or: panelmanager providers list / merge / set)"
# A PM user name rather than a person's name: one word of letters, digits, dots and
# underscores, no space (GC_Klein_S, KLEINS, jsmith_fd); a clinician's name has a space.
_USER_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


@dataclass
class ProviderRow:
    id: int
    external_id: str
    npi: str | None
    display_name: str
    credentials: str | None
    specialty: str | None
    fte: float
    clinic_days_per_year: float | None
    visits_per_day: float | None
    panel_open: bool
    can_hold_panel: bool | None  # the practice's own setting; None: decided by the specialty
    active: bool
    source: str = ""
    holds_panel: bool = False  # the effective answer (own setting, else specialty default), active only
    holds_panel_by_default: bool = False  # what the specialty / credentials alone decide
    merged_into_id: int | None = None
    merged_into_name: str | None = None
    also_known_as: list[str] = field(default_factory=list)  # source ids merged into this provider


def _rules(session: Session):
    from panelmanager.core.empanelment import load_panel_rules
    from panelmanager.core.settings import load_settings

    return load_panel_rules(specialties=load_settings(session).panel_specialties or None)


def list_providers(session: Session, *, active_only: bool = False, include_merged: bool = False) -> list[ProviderRow]:
    """Providers by name; merged ones (user names mapped to a clinician) only with ``include_merged``."""
    stmt = select(Provider).order_by(Provider.display_name, Provider.id)
    if active_only:
        stmt = stmt.where(Provider.active.is_(True))
    everyone = list(session.scalars(select(Provider)))
    names = {p.id: p.display_name for p in everyone}
    aliases: dict[int, list[str]] = {}
    for p in everyone:
        if p.merged_into_id is not None:
            aliases.setdefault(p.merged_into_id, []).append(p.external_id)
    rules = _rules(session)
    rows = []
    for p in session.scalars(stmt):
        if p.merged_into_id is not None and not include_merged:
            continue
        active = bool(p.active) if p.active is not None else True
        default = rules.holds_panel_by_default(p.specialty, p.credentials)
        decided = default if p.can_hold_panel is None else bool(p.can_hold_panel)
        rows.append(
            ProviderRow(
                id=p.id,
                external_id=p.external_id,
                npi=p.npi,
                display_name=p.display_name,
                credentials=p.credentials,
                specialty=p.specialty,
                fte=p.fte if p.fte is not None else 1.0,
                clinic_days_per_year=p.clinic_days_per_year,
                visits_per_day=p.visits_per_day,
                panel_open=bool(p.panel_open) if p.panel_open is not None else True,
                can_hold_panel=p.can_hold_panel,
                active=active,
                source=p.source,
                holds_panel=decided and active and p.merged_into_id is None,
                holds_panel_by_default=default,
                merged_into_id=p.merged_into_id,
                merged_into_name=names.get(p.merged_into_id) if p.merged_into_id else None,
                also_known_as=sorted(aliases.get(p.id, [])),
            )
        )
    return rows


def npi_is_valid(npi: str) -> bool:
    """Ten digits whose last is the Luhn check digit over "80840" + the first nine (CMS NPI standard)."""
    if not re.fullmatch(r"\d{10}", npi):
        return False
    digits = [int(c) for c in "80840" + npi[:9]]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return (10 - total % 10) % 10 == int(npi[9])


def _clean(name: str, value):
    """``value`` checked for provider field ``name``; ValueError says what is allowed."""
    if name == "display_name":
        text = str(value or "").strip()
        if not text:
            raise ValueError("A provider needs a name.")
        return text[:200]
    if name == "npi":
        text = re.sub(r"\D", "", str(value or ""))
        if not text:
            return None
        if not npi_is_valid(text):
            raise ValueError(f"'{value}' is not a valid NPI: an NPI has 10 digits and a check digit (see the NPPES registry).")
        return text
    if name in ("specialty", "credentials"):
        text = str(value or "").strip()
        limit = 120 if name == "specialty" else 40
        return (text.upper() if name == "specialty" else text)[:limit] or None
    if name == "fte" and not (0 < float(value) <= 1.5):
        raise ValueError("FTE must be above 0 and at most 1.5 (1.0 is full time).")
    if name in ("clinic_days_per_year",) and value is not None and not (0 < float(value) <= 366):
        raise ValueError("Clinic days per year must be between 1 and 366.")
    if name in ("visits_per_day",) and value is not None and not (0 < float(value) <= 80):
        raise ValueError("Visits per day must be between 1 and 80.")
    return value


@audited_service("settings", details=lambda a, k, _r: {"provider": a[0] if a else k.get("provider_id"),
                                                      "changed": sorted(set(k) - {"provider_id"})})
def update_provider(session: Session, provider_id: int, **changes) -> ProviderRow:
    """Change a provider's details or panel settings; unknown fields or bad values raise ValueError."""
    require_current("settings")  # issue 14: refused unless the acting user's role may do this
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise ValueError(f"There is no provider with id {provider_id}.")
    for name, value in changes.items():
        if name not in EDITABLE:
            raise ValueError(f"'{name}' is not a provider setting; the settings are {', '.join(EDITABLE)}.")
        if provider.merged_into_id is not None and name in ("can_hold_panel", "active", "panel_open"):
            target = session.get(Provider, provider.merged_into_id)
            raise ValueError(
                f"{provider.display_name} was merged into {target.display_name if target else 'another provider'}; "
                "change that provider instead."
            )
        setattr(provider, name, _clean(name, value))
    session.flush()
    return next(row for row in list_providers(session, include_merged=True) if row.id == provider_id)


class ProviderNotFound(ValueError):
    """No provider (or more than one) answers to what the user typed; the message says which and how to fix it."""


def find_provider(session: Session, text: str, *, name_part: bool = False) -> ProviderRow:
    """One provider by what a user types: registry id, source id (the PM user name), NPI, exact name,
    or (with ``name_part``) a part of the name that only one provider has.

    The one provider lookup of the CLI (``--provider``) and the screens; ``ProviderNotFound``
    (a ``ValueError``) says what matched or that nothing did. Choosing whose panel or gaps to
    show passes ``name_part=True``; changing providers (``providers set`` / ``merge``) does not
    guess.
    """
    wanted = str(text).strip()
    rows = list_providers(session, include_merged=True)
    folded = wanted.casefold()
    tests = [
        lambda r: wanted.isdigit() and str(r.id) == wanted and len(wanted) < 10,
        lambda r: r.external_id == wanted,
        lambda r: r.npi is not None and r.npi == wanted,
        lambda r: r.external_id.casefold() == folded,
        lambda r: r.display_name.casefold() == folded,
    ]
    if name_part and folded:
        tests.append(lambda r: r.merged_into_id is None and folded in r.display_name.casefold())
    for test in tests:
        found = [r for r in rows if test(r)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            listing = ", ".join(f"{r.id} ({r.external_id})" for r in found[:5])
            raise ProviderNotFound(f"'{wanted}' matches {len(found)} providers: {listing}. Use the id or the NPI.")
    if name_part:
        raise ProviderNotFound(f"There is no provider with id or NPI {wanted!r}, nor with that in the name. "
                               "'panelmanager providers list' shows each provider's id and PM id.")
    raise ProviderNotFound(f"There is no provider '{wanted}'. 'panelmanager providers list' shows each provider's id "
                           "and PM id.")


def looks_like_user_name(row: ProviderRow) -> bool:
    """A scheduler user name (GC_Klein_S) rather than a clinician: no specialty, NPI or credentials."""
    return not row.specialty and not row.npi and not row.credentials and bool(_USER_NAME.match(row.display_name or ""))


def panel_holder_problem(session: Session) -> str | None:
    """Why nobody can be put on a panel (no provider can hold one), and where to fix it; None when fine."""
    rows = list_providers(session)
    if any(r.holds_panel for r in rows):
        return None
    if not rows:
        return (
            "There are no providers yet, so there is no panel to put a patient on. Import the practice's "
            f"appointments or provider list, then mark who holds a panel in {WHERE_TO_FIX}."
        )
    users = [r for r in rows if looks_like_user_name(r)]
    text = (
        f"No provider can hold a panel: none of the {len(rows):,} providers has a primary-care specialty or is "
        "marked 'Can hold a panel', so no one can be assigned."
    )
    if users:
        sample = ", ".join(r.display_name for r in users[:3]) + (", ..." if len(users) > 3 else "")
        text += (
            f" {len(users):,} of them look like scheduler user names ({sample}): merge each into the clinician "
            "it stands for, and give that clinician a specialty or tick 'Can hold a panel'."
        )
    else:
        text += " Give each primary-care clinician a specialty or tick 'Can hold a panel'."
    return f"{text} Fix it in {WHERE_TO_FIX}."
