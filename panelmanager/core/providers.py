"""Provider settings a manager edits: FTE, clinic days, visits per day, panel open/closed,
and whether the provider can hold a panel (overriding the specialty default)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from panelmanager.core.models import Provider

EDITABLE = ("fte", "clinic_days_per_year", "visits_per_day", "panel_open", "can_hold_panel", "active")


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
    can_hold_panel: bool | None
    active: bool


def list_providers(session: Session, *, active_only: bool = False) -> list[ProviderRow]:
    stmt = select(Provider).order_by(Provider.display_name, Provider.id)
    if active_only:
        stmt = stmt.where(Provider.active.is_(True))
    return [
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
            active=bool(p.active) if p.active is not None else True,
        )
        for p in session.scalars(stmt)
    ]


def update_provider(session: Session, provider_id: int, **changes) -> ProviderRow:
    """Change a provider's panel settings; unknown fields or bad values raise ValueError."""
    provider = session.get(Provider, provider_id)
    if provider is None:
        raise ValueError(f"There is no provider with id {provider_id}.")
    for name, value in changes.items():
        if name not in EDITABLE:
            raise ValueError(f"'{name}' is not a provider setting; the settings are {', '.join(EDITABLE)}.")
        if name == "fte" and not (0 < float(value) <= 1.5):
            raise ValueError("FTE must be above 0 and at most 1.5 (1.0 is full time).")
        if name in ("clinic_days_per_year",) and value is not None and not (0 < float(value) <= 366):
            raise ValueError("Clinic days per year must be between 1 and 366.")
        if name in ("visits_per_day",) and value is not None and not (0 < float(value) <= 80):
            raise ValueError("Visits per day must be between 1 and 80.")
        setattr(provider, name, value)
    session.flush()
    return next(row for row in list_providers(session) if row.id == provider_id)
