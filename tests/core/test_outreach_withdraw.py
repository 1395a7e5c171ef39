"""A mailing logged by mistake is withdrawn the same day by its sender: kept in the log, no longer outreach."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from panelmanager.core import models as m
from panelmanager.core.outreach import (
    OutreachError,
    build_outreach_list,
    last_outreach,
    log_outreach_bulk,
    outreach_history,
    withdraw_outreach_batch,
)

AS_OF = dt.date(2024, 3, 1)
COLON = "colorectal-cancer-screening"
LOGGED = dt.datetime(2024, 3, 1, 10, 15)


def _patients(session, n=3) -> list[int]:
    ids = []
    for i in range(n):
        p = m.Patient(mrn=f"W{i}", first_name="Ann", last_name=f"Lee{i}", dob=dt.date(1970, 1, 1), sex="F",
                      source="t", status="active", address1="1 Elm St", city="Springfield", state="MA",
                      postal_code="01103", preferred_language="en")
        session.add(p)
        session.flush()
        ids.append(p.id)
    return ids


def _mailing(session, ids, user="maria"):
    pairs = pd.DataFrame({"patient_id": ids, "measure_id": [COLON] * len(ids)})
    return log_outreach_bulk(session, pairs, method="letter", document="letters", user=user, when=LOGGED)


def test_withdrawn_batch_is_kept_but_no_longer_counts(fresh_registry):
    with fresh_registry.session() as session:
        ids = _patients(session)
        logged = _mailing(session, ids)
        assert set(last_outreach(session, AS_OF)["patient_id"]) == set(ids)
        before = build_outreach_list(session, AS_OF, measure_ids=[COLON])
        assert before.patients == 0 and before.left_out == {"contacted in the last 30 days": 3}

        done = withdraw_outreach_batch(session, logged.batch, user="maria", when=LOGGED + dt.timedelta(hours=2))
        assert (done.rows, done.patients, done.withdrawn_by, done.document) == (3, 3, "maria", "letters")
        assert last_outreach(session, AS_OF).empty
        after = build_outreach_list(session, AS_OF, measure_ids=[COLON])
        assert after.patients == 3 and not after.left_out
        [entry] = outreach_history(session, ids[0])
        assert entry.batch == logged.batch and entry.withdrawn_by == "maria"
        assert entry.withdrawn_at == LOGGED + dt.timedelta(hours=2)
        assert session.query(m.OutreachLog).count() == 3  # withdrawn, not deleted


@pytest.mark.parametrize(
    ("user", "when", "message"),
    [
        ("joe", LOGGED + dt.timedelta(hours=1), "was logged by maria; only they can withdraw it"),
        ("maria", LOGGED + dt.timedelta(days=1), "can only be withdrawn on the day it was logged"),
    ],
)
def test_only_the_sender_on_the_same_day(fresh_registry, user, when, message):
    with fresh_registry.session() as session:
        logged = _mailing(session, _patients(session))
        with pytest.raises(OutreachError, match=message):
            withdraw_outreach_batch(session, logged.batch, user=user, when=when)


def test_unknown_or_twice_withdrawn_batch_is_a_message(fresh_registry):
    with fresh_registry.session() as session:
        logged = _mailing(session, _patients(session))
        with pytest.raises(OutreachError, match="there is no outreach batch 'nope'"):
            withdraw_outreach_batch(session, "nope", user="maria", when=LOGGED)
        withdraw_outreach_batch(session, logged.batch, user="maria", when=LOGGED)
        with pytest.raises(OutreachError, match="already withdrawn on 2024-03-01 10:15 by maria"):
            withdraw_outreach_batch(session, logged.batch, user="maria", when=LOGGED)
