"""A huddle asks for the providers of one day's patients only: the answer is the whole registry's, cut to them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from panelmanager.core import models as m
from panelmanager.core.demo import load_demo
from panelmanager.core.measures import patient_providers

AS_OF = dt.date(2025, 3, 12)


def test_the_proposal_for_some_patients_is_the_whole_proposal_cut_to_them(fresh_registry):
    load_demo(fresh_registry, patients=400, seed=3, as_of=AS_OF)
    with fresh_registry.session() as session:
        everyone, how = patient_providers(session, AS_OF)
        some = sorted(session.scalars(select(m.Patient.id).order_by(m.Patient.id)).all())[::7]
        subset, how_subset = patient_providers(session, AS_OF, patient_ids=some)
    assert how == how_subset == "proposal"  # a demo practice has no accepted review yet
    expected = everyone[everyone["patient_id"].isin(some)].sort_values("patient_id").reset_index(drop=True)
    got = subset.sort_values("patient_id").reset_index(drop=True)
    assert len(expected) > 10  # the demo's patients have primary-care visits to propose from
    assert got.to_dict("records") == expected.to_dict("records")
    # Nobody outside the asked-for patients comes back.
    assert set(got["patient_id"]) <= set(some)
