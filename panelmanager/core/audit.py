"""The audit trail: who did what, when, on which workstation, to which patients, with what outcome.

Append-only and hash-chained (45 CFR 164.312(b) audit controls, (c)(1) integrity; ONC
170.315(d)(2), (d)(3), (d)(10)). Each row carries ``seq`` (1, 2, 3... without gaps), the previous
row's hash and ``hash`` = SHA-256 of the row's canonical content followed by ``prev_hash``; the
chain head (``registry_changes.audit_seq`` / ``audit_hash``) keeps the last seq and hash. ``verify`` walks the chain and names the first
row that was altered, deleted or inserted, and a removed tail. A database trigger refuses UPDATE
and DELETE on ``audit_log`` as defence in depth; ``verify`` does not rely on it.

What the chain cannot prove by itself: someone with full database rights who recomputes every hash
after a change. ``verify`` prints the head hash; writing it down (or keeping backups) anchors it.

Rows hold patient ids, never names; ``details`` is a small JSON object of counts, ids, file kinds
and option names, never patient data. Appends are serialized: on PostgreSQL by the chain head's
row lock (``SELECT ... FOR UPDATE`` on the registry_changes row, which write services already hold
from ``begin_write``), on SQLite by the write transaction itself (``Registry.write_session``).
``seq`` is the table's primary key (SQLite's rowid): an in-order append writes the row's page only;
the head's page is already written by the action (migrations 0013_auditlean, 0015_audit_late). No
index holds every entry's ``at``: the date filter reads a seq range and the few "late" entries
(``list_entries``). A workstation whose clock is over a day ahead makes the others' entries late
until the time catches up: they are then indexed too (one page more each, as every entry was before
0014) and the filter stays exact, but finds the few in-order entries of those days by a scan.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _encode_str
from typing import IO, Any

from sqlalchemy import BigInteger, DateTime, func, inspect, select, text
from sqlalchemy.orm import Session

from panelmanager.core import models as m
from panelmanager.core.permissions import Actor

GENESIS = "0" * 64
# An entry whose ``at`` is this far before the trail's newest ``at`` is "late" (its workstation's clock
# is behind): the date filter finds it by the late entries' index, every other entry by seq
# (list_entries; migration 0015_audit_late, which copies this value). Over a day, so that a DST
# change or a workstation set to another time zone makes no entry late; the price is that a date
# range reads the in-order entries of about a day more on each side.
LATE_AFTER = dt.timedelta(hours=26)
# A probe of the binary search looks at this many seqs at most (late entries are skipped).
_PROBE_SPAN = 256
OUTCOMES = ("ok", "refused", "error", "failed")
# Any fixed 64-bit number: the advisory lock that serializes appends on PostgreSQL.
_PG_LOCK_KEY = 0x5041_4E45_4C41_5544  # "PANELAUD"
# The events that are not one of the permission actions.
EVENTS = ("login", "login_failed", "lockout", "logout", "lock", "unlock", "user_created", "user_disabled",
          "user_enabled", "password_reset", "password_changed", "role_changed", "token_created", "token_revoked",
          "token_login", "audit_verify", "audit_export", "first_admin")


@dataclass(frozen=True)
class AuditRow:
    seq: int
    at: dt.datetime
    user_name: str
    role: str | None
    workstation: str | None
    action: str
    patient_ids: tuple[int, ...]
    outcome: str
    emergency: bool
    emergency_reason: str | None
    details: dict[str, Any]


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    rows: int
    head_hash: str
    problem: str | None = None
    seq: int | None = None  # the first bad row's seq (or the first missing one)
    row_id: int | None = None

    def message(self) -> str:
        if self.ok:
            return f"The audit trail is intact: {self.rows:,} entries, head {self.head_hash[:16]}."
        return self.problem or "The audit trail is damaged."


# --------------------------------------------------------------------------- hashing


def _ids_text(patient_ids: Iterable[int] | None) -> str | None:
    if patient_ids is None:
        return None
    ids = sorted({int(p) for p in patient_ids})
    return "," + ",".join(map(str, ids)) + "," if ids else None


def _stamp(when: dt.datetime) -> str:
    return when.replace(tzinfo=None).isoformat(timespec="microseconds")


# The canonical form is, by definition, ``json.dumps(content, sort_keys=True, separators=(",", ":"),
# ensure_ascii=True)`` of the twelve fields (``canonical_reference``); ``canonical`` writes the same
# text from a template, each value encoded as the json module's C encoder does, at a fifth of the
# cost (tests/core/test_audit_lean.py compares the two on awkward values).
_CANONICAL_KEYS = ("action", "at", "details", "emergency", "emergency_reason", "outcome", "patient_ids", "role",
                   "seq", "user_id", "user_name", "workstation")
_TEMPLATE = "{" + ",".join(f'"{k}":%s' for k in _CANONICAL_KEYS) + "}"


def _json(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is str:
        return _encode_str(value)
    if type(value) is int:
        return int.__repr__(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _content(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": int(values["seq"]),
        "at": _stamp(values["at"]),
        "user_id": values.get("user_id"),
        "user_name": values["user_name"],
        "role": values.get("role"),
        "workstation": values.get("workstation"),
        "action": values["action"],
        "patient_ids": values.get("patient_ids"),
        "outcome": values["outcome"],
        "emergency": bool(values.get("emergency")),
        "emergency_reason": values.get("emergency_reason"),
        "details": values.get("details"),
    }


def canonical_reference(values: dict[str, Any]) -> str:
    """The row's content as hashed, written by ``json.dumps``: what ``canonical`` must equal."""
    return json.dumps(_content(values), sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def canonical(values: dict[str, Any]) -> str:
    """The row's content as hashed: fixed keys, sorted, no whitespace (= ``canonical_reference``)."""
    c = _content(values)
    return _TEMPLATE % tuple(_json(c[k]) for k in _CANONICAL_KEYS)


def row_hash(values: dict[str, Any], prev_hash: str) -> str:
    return hashlib.sha256((canonical(values) + prev_hash).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- appending
#
# An append is a few short statements run on the session's own DB-API connection, in its
# transaction (the entry commits with the action or not at all): through SQLAlchemy each
# statement cost about 0.3 ms of CPU, most of the audit's cost on a check-in confirm
# (tests/benchmarks/bench_audit.py). Appends are serialized by the lock on the chain head:
#   SQLite: the write transaction itself (BEGIN IMMEDIATE in ``Registry.write_session``; a read
#     transaction that appends must upgrade to the write lock, and fails if another wrote since
#     it began: ``actions._append`` then appends in a transaction of its own);
#   PostgreSQL: ``SELECT ... FOR UPDATE`` on the head's row, which in READ COMMITTED waits for a
#     concurrent appender's commit and then reads the head it wrote (a write service already holds
#     that row's lock from ``begin_write``); a registry without the row (never, once migrated) takes
#     the advisory lock for its first append.
# The statements are written once per parameter style ("qmark": sqlite3 / SQLCipher; "format" or
# "pyformat": psycopg); any other driver goes through SQLAlchemy (``_record_sa``).
_COLUMNS = ("seq", "at", "user_id", "user_name", "role", "workstation", "action", "patient_ids", "outcome",
            "emergency", "emergency_reason", "details", "prev_hash", "hash", "late")
# The head lives in the one registry_changes row (migration 0013_auditlean): every write service has
# already updated that row (concurrency.begin_write), so moving the head writes no page of its own.
_READ_HEAD = "SELECT audit_seq, audit_hash, audit_at_max FROM registry_changes WHERE id = 1"
_MOVE_HEAD = "UPDATE registry_changes SET audit_seq = ?, audit_hash = ?, audit_at_max = ? WHERE id = 1"
_INSERT = f"INSERT INTO audit_log ({', '.join(_COLUMNS)}) VALUES ({', '.join(['?'] * len(_COLUMNS))})"
_SQL = {
    "read_head": _READ_HEAD,
    "lock_head": _READ_HEAD + " FOR UPDATE",
    "insert": _INSERT,
    "move_head": _MOVE_HEAD,
    "new_head": "INSERT INTO registry_changes (id, counter, audit_seq, audit_hash, audit_at_max) VALUES (1, 0, ?, ?, ?)",
    "newest": "SELECT MAX(at) FROM audit_log",
    # PostgreSQL: the row and the head's move in one round trip.
    "insert_and_move": f"WITH appended AS ({_INSERT}) {_MOVE_HEAD}",
    "lock": "SELECT pg_advisory_xact_lock(?)",
}
_STYLES = {"qmark": _SQL, **{style: {k: v.replace("?", "%s") for k, v in _SQL.items()} for style in ("format", "pyformat")}}


def _lock_chain(session: Session) -> None:
    """PostgreSQL: the advisory lock that serializes the first append (and the first administrator's creation)."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection().exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_KEY,))


# What ``record`` writes of an actor, built once per actor (Actor is frozen): the row's four values
# and their canonical JSON ("role", then after "seq" the "user_id", "user_name", "workstation" tail).
_ACTOR_PARTS: dict[int, tuple[Any, ...]] = {}
# The canonical text's middle of an entry with no details, no emergency and outcome "ok" (most entries).
_PLAIN_MIDDLE = ',"details":null,"emergency":false,"emergency_reason":null,"outcome":"ok","patient_ids":'


def _actor_parts(actor: Actor | None, user_name: str | None) -> tuple[Any, ...]:
    if actor is not None:
        parts = _ACTOR_PARTS.get(id(actor))
        if parts is not None and parts[0] is actor:
            return parts
    user_id = actor.user_id if actor else None
    name = (actor.username if actor else (user_name or "unknown"))[:80]
    role = actor.role if actor else None
    workstation = (actor.workstation if actor else None) or None
    parts = (actor, user_id, name, role, workstation, _json(role),
             f',"user_id":{_json(user_id)},"user_name":{_json(name)},"workstation":{_json(workstation)}}}')
    if actor is not None:
        if len(_ACTOR_PARTS) > 64:  # a process sees a few actors; the entry keeps its actor alive (no id reuse)
            _ACTOR_PARTS.clear()
        _ACTOR_PARTS[id(actor)] = parts
    return parts


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    *,
    patient_ids: Iterable[int] | None = None,
    outcome: str = "ok",
    details: dict[str, Any] | None = None,
    emergency_reason: str | None = None,
    user_name: str | None = None,
    at: dt.datetime | None = None,
) -> int:
    """Append one entry in ``session``'s transaction (committed with it); returns its seq.

    ``actor`` None: no one is logged in (a failed login names the user name tried in ``user_name``).
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"audit outcome is one of {', '.join(OUTCOMES)}, not {outcome!r}")
    when = dt.datetime.now() if at is None else at.replace(tzinfo=None)
    reason = (emergency_reason or "").strip() or None
    # A check-in names one patient: its text without the set and sort of ``_ids_text``.
    ids: str | None
    if type(patient_ids) is list and len(patient_ids) == 1 and type(patient_ids[0]) is int:
        ids = f",{patient_ids[0]},"
    else:
        ids = _ids_text(patient_ids)
    details_text = json.dumps(details, sort_keys=True, default=str) if details else None
    _actor, user_id, name, role, workstation, role_json, tail = _actor_parts(actor, user_name)
    emergency = bool(emergency_reason)
    given = _HEADS.pop(session.get_transaction(), None) if _HEADS else None
    if given is not None:  # SQLite: read by begin_write in this transaction
        sqlite, sql, dbapi, head = True, _SQL, given[0], given[1]
    else:
        conn = session.connection()
        dialect = conn.dialect
        styled = _STYLES.get(dialect.paramstyle)
        if styled is None:
            return _record_sa(conn, dict(zip(_COLUMNS, (0, when, user_id, name, role, workstation, action, ids,
                                                        outcome, emergency, reason, details_text, None, None, None))))
        sqlite, sql, dbapi, head = dialect.name == "sqlite", styled, conn.connection.dbapi_connection, None
    assert dbapi is not None  # a connection taken from the session's transaction is open
    cursor = dbapi.cursor()
    try:
        if head is None and sqlite:
            cursor.execute(sql["read_head"])
            head = cursor.fetchone()
        elif head is None:
            cursor.execute(sql["lock_head"])
            head = cursor.fetchone()
            if head is None:  # the first entry ever: nothing to lock yet
                cursor.execute(sql["lock"], (_PG_LOCK_KEY,))
                cursor.execute(sql["lock_head"])
                head = cursor.fetchone()
        seq, prev_hash = (int(head[0]) + 1, head[1]) if head and head[0] is not None else (1, GENESIS)
        stamp = when.isoformat(timespec="microseconds")
        # What the row's ``at`` is in the database (SQLite: SQLAlchemy's DateTime text, which the ORM
        # reads as its own and which sorts as the time does; psycopg: the datetime), and the newest.
        stored = stamp.replace("T", " ") if sqlite else when
        newest = head[2] if head else None
        if newest is None and seq > 1:  # a head written before 0014, or copied without it
            cursor.execute(sql["newest"])
            newest = (cursor.fetchone() or (None,))[0]
        late = None
        if newest is None or stored >= newest:
            newest = stored
        elif when < _as_datetime(newest) - LATE_AFTER:
            late = True
        if details_text is None and not emergency and reason is None and outcome == "ok":
            middle = _PLAIN_MIDDLE
        else:
            middle = (f',"details":{_json(details_text)},"emergency":{"true" if emergency else "false"},'
                      f'"emergency_reason":{_json(reason)},"outcome":{_encode_str(outcome)},"patient_ids":')
        # = canonical(row) (test_audit_lean compares them): the keys in sorted order
        text_ = (f'{{"action":{_encode_str(action)},"at":"{stamp}"{middle}{"null" if ids is None else _encode_str(ids)}'
                 f',"role":{role_json},"seq":{seq}{tail}')
        digest = hashlib.sha256((text_ + prev_hash).encode("ascii")).hexdigest()
        row = (seq, stored, user_id, name, role, workstation, action, ids, outcome, emergency, reason, details_text,
               prev_hash, digest, late)
        if sqlite:
            cursor.execute(sql["insert"], row)
            cursor.execute(sql["move_head"] if head else sql["new_head"], (seq, digest, newest))
        elif head:
            cursor.execute(sql["insert_and_move"], (*row, seq, digest, newest))
        else:
            cursor.execute(sql["insert"], row)
            cursor.execute(sql["new_head"], (seq, digest, newest))
    finally:
        cursor.close()
    return seq


# The chain head as begin_write read it with the change counter's bump (SQLite, concurrency._bump_sqlite),
# by transaction: (its DB-API connection, the head row). Only the transaction's FIRST append uses it,
# and any append takes it away, so a head moved since (a later append, a savepoint rolled back after
# one) is always read again. Weak keys: a transaction that appends nothing leaves no entry behind (and
# no reference cycle through its session for the garbage collector to find).
_HEADS: weakref.WeakKeyDictionary[Any, tuple[Any, tuple[Any, ...]]] = weakref.WeakKeyDictionary()


def remember_head(session: Session, dbapi: Any, head: Sequence[Any]) -> None:
    transaction = session.get_transaction()
    if transaction is not None:
        _HEADS[transaction] = (dbapi, tuple(head))


def _as_datetime(value: Any) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def _record_sa(conn, values: dict[str, Any]) -> int:
    """The same append through SQLAlchemy (a driver whose parameter style has no prebuilt statements)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    h = m.RegistryChange.__table__
    head = conn.execute(select(h.c.audit_seq, h.c.audit_hash, h.c.audit_at_max).where(h.c.id == 1)).first()
    prev_seq, prev_hash = (int(head[0]), head[1]) if head and head[0] is not None else (0, GENESIS)
    newest = head[2] if head else None
    if newest is None and prev_seq:
        newest = conn.execute(select(func.max(m.AuditEntry.at))).scalar()
    if newest is not None and values["at"] < newest - LATE_AFTER:
        values["late"] = True
    newest = values["at"] if newest is None or values["at"] > newest else newest
    values["seq"] = prev_seq + 1
    values["prev_hash"] = prev_hash
    values["hash"] = row_hash(values, prev_hash)
    conn.execute(m.AuditEntry.__table__.insert(), values)
    moved = {"audit_seq": values["seq"], "audit_hash": values["hash"], "audit_at_max": newest}
    if head:
        conn.execute(h.update().where(h.c.id == 1).values(**moved))
    else:
        conn.execute(h.insert().values(id=1, counter=0, **moved))
    return values["seq"]


# --------------------------------------------------------------------------- verifying

_VERIFY_CHUNK = 5_000


def verify(session: Session) -> VerifyResult:
    """Walk the whole chain; the first altered, deleted or inserted row is named (by its # and id)."""
    a = m.AuditEntry.__table__
    head = _recorded_head(session)
    columns = [a.c.seq, a.c.at, a.c.user_id, a.c.user_name, a.c.role, a.c.workstation, a.c.action,
               a.c.patient_ids, a.c.outcome, a.c.emergency, a.c.emergency_reason, a.c.details, a.c.prev_hash,
               a.c.hash]
    prev_seq, prev_hash, count = 0, GENESIS, 0
    head_seq = int(head.seq) if head else 0
    last_id = None
    while True:
        query = select(*columns).order_by(a.c.seq).limit(_VERIFY_CHUNK)
        if count:
            query = query.where(a.c.seq > prev_seq)
        rows = session.execute(query).mappings().all()
        if not rows:
            break
        for row in rows:
            values = dict(row)
            seq = row_id = int(values["seq"])  # seq is the row's key (its id)
            if head is not None and seq > head_seq:
                return _bad(count, prev_hash, seq, row_id,
                            f"Audit row #{seq} (id {row_id}) was inserted: it comes after the last entry the "
                            f"trail recorded (#{head_seq}).")
            if seq <= prev_seq:  # seq is unique, so only a row numbered before the first one
                return _bad(count, prev_hash, seq, row_id,
                            f"Audit row #{seq} (id {row_id}) was inserted: it is out of sequence.")
            if row_hash(values, values["prev_hash"]) != values["hash"]:
                what = "inserted or altered" if values["prev_hash"] != prev_hash else "altered"
                return _bad(count, prev_hash, seq, row_id,
                            f"Audit row #{seq} (id {row_id}) was {what}: its content does not match its hash.")
            if seq != prev_seq + 1:
                missing = f"#{prev_seq + 1}" if seq == prev_seq + 2 else f"#{prev_seq + 1}-#{seq - 1}"
                return _bad(count, prev_hash, prev_seq + 1, row_id,
                            f"Audit row {missing} was deleted: the trail jumps from #{prev_seq} to #{seq} "
                            f"(id {row_id}).")
            if values["prev_hash"] != prev_hash:
                return _bad(count, prev_hash, seq, row_id,
                            f"Audit row #{seq} (id {row_id}) does not follow #{prev_seq}: a row before it was "
                            "replaced or inserted.")
            prev_seq, prev_hash, last_id = seq, values["hash"], row_id
            count += 1
    if head is None and count:
        return _bad(count, prev_hash, None, None, "The audit trail's head record is missing: it was deleted.")
    if head is not None and (head_seq != prev_seq or head.hash != prev_hash):
        if head_seq > prev_seq:
            missing = f"#{head_seq}" if head_seq == prev_seq + 1 else f"#{prev_seq + 1}-#{head_seq}"
            return _bad(count, prev_hash, prev_seq + 1, None,
                        f"Audit row {missing} was deleted: the trail ends at #{prev_seq} but recorded #{head_seq}.")
        return _bad(count, prev_hash, head_seq, last_id,
                    f"The audit trail's head record does not match row #{prev_seq}: it was altered.")
    return VerifyResult(ok=True, rows=count, head_hash=prev_hash)


def _recorded_head(session: Session):
    """The chain head as recorded: (seq, hash), or None. A registry or backup from before migration
    0013_auditlean (a backup is checked before it is restored) keeps it in ``audit_chain_head``."""
    conn = session.connection()
    found = inspect(conn)
    if "audit_seq" in {c["name"] for c in found.get_columns("registry_changes")}:
        h = m.RegistryChange.__table__
        return conn.execute(select(h.c.audit_seq.label("seq"), h.c.audit_hash.label("hash"))
                            .where(h.c.id == 1, h.c.audit_seq.is_not(None))).first()
    if found.has_table("audit_chain_head"):
        return conn.execute(text("SELECT seq, hash FROM audit_chain_head WHERE id = 1")).first()
    return None


def _bad(count: int, head_hash: str, seq: int | None, row_id: int | None, problem: str) -> VerifyResult:
    return VerifyResult(ok=False, rows=count, head_hash=head_hash, problem=problem, seq=seq, row_id=row_id)


# --------------------------------------------------------------------------- reading


def list_entries(
    session: Session,
    *,
    user: str | None = None,
    patient_id: int | None = None,
    action: str | Sequence[str] | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    emergency_only: bool = False,
    limit: int | None = 10_000,
) -> list[AuditRow]:
    """Entries newest first, filtered by user name, patient id, action(s), dates (inclusive).

    A date range reads the entries in order by a ``seq`` range (``_seq_bounds``) and the late ones
    (a workstation clock behind) by their index: no index on every entry's ``at``.
    """
    a = m.AuditEntry
    query = select(a.seq, a.at, a.user_name, a.role, a.workstation, a.action, a.patient_ids, a.outcome,
                   a.emergency, a.emergency_reason, a.details)
    if user:
        query = query.where(func.lower(a.user_name) == user.strip().lower())
    if patient_id is not None:
        query = query.where(a.patient_ids.like(f"%,{int(patient_id)},%"))
    if action:
        actions = [action] if isinstance(action, str) else list(action)
        query = query.where(a.action.in_(actions))
    if emergency_only:
        query = query.where(a.emergency.is_(True))
    queries = [query]
    if date_from or date_to:
        start = dt.datetime.combine(date_from, dt.time()) if date_from else None
        end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time()) if date_to else None
        if start is not None:
            query = query.where(a.at >= start)
        if end is not None:
            query = query.where(a.at < end)
        low, high = _seq_bounds(session, start, end)
        in_order = query.where(a.late.is_(None))
        if low is not None:
            in_order = in_order.where(a.seq >= low)
        if high is not None:
            in_order = in_order.where(a.seq < high)
        queries = [in_order, query.where(a.late.is_not(None))]  # the second reads ix_audit_log_late_at
    rows: list[Any] = []
    for each in queries:
        each = each.order_by(a.seq.desc())
        rows.extend(session.execute(each.limit(limit) if limit else each))
    if len(queries) > 1:
        rows.sort(key=lambda r: r.seq, reverse=True)
        del rows[limit or len(rows):]
    return [
        AuditRow(
            seq=int(r.seq), at=r.at, user_name=r.user_name, role=r.role, workstation=r.workstation, action=r.action,
            patient_ids=tuple(int(p) for p in (r.patient_ids or "").strip(",").split(",") if p),
            outcome=r.outcome, emergency=bool(r.emergency), emergency_reason=r.emergency_reason,
            details=json.loads(r.details) if r.details else {},
        )
        for r in rows
    ]


# Two subqueries: each reads one end of the key (MIN and MAX together would scan the table on SQLite).
_SEQ_SPAN = text("SELECT (SELECT MIN(seq) FROM audit_log), (SELECT MAX(seq) FROM audit_log)")
_PROBE = text("SELECT seq, at FROM audit_log WHERE seq >= :lo AND seq < :stop AND late IS NULL ORDER BY seq LIMIT 1"
              ).columns(seq=BigInteger(), at=DateTime())


def _seq_bounds(session: Session, start: dt.datetime | None, end: dt.datetime | None) -> tuple[int | None, int | None]:
    """A ``seq`` range [low, high) that holds every in-order entry (``late`` NULL) with ``start <= at < end``.

    When it was appended, an in-order entry's ``at`` was at most ``LATE_AFTER`` before the newest
    ``at`` of the trail so far, N(seq), which never decreases with seq; so at <= N(seq) <= at +
    LATE_AFTER. An in-order entry with at < start - LATE_AFTER has N below start, so it comes
    before every entry wanted; one with at >= end + LATE_AFTER has N above every wanted entry's N,
    so it comes after them. A binary search over seq (a few dozen key look-ups) finds such entries
    close to the range; a None bound is open.
    """
    conn = session.connection()  # Core statements: the search runs a few dozen of them
    first, last = conn.execute(_SEQ_SPAN).one()
    if first is None:
        return None, None

    def probe(lo: int, hi: int) -> tuple[int, dt.datetime] | bool:
        """The first in-order entry with lo <= seq < hi; False when there is none, True when there is
        none among the first _PROBE_SPAN seqs (unknown: many late entries)."""
        stop = min(hi, lo + _PROBE_SPAN)
        row = conn.execute(_PROBE, {"lo": lo, "stop": stop}).first()
        return (int(row[0]), row[1]) if row else stop < hi

    low = high = None
    if start is not None:  # the largest in-order seq found with at < start - LATE_AFTER: every wanted seq is above it
        limit, lo, hi = start - LATE_AFTER, first - 1, last + 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            found = probe(mid, hi)
            if isinstance(found, tuple) and found[1] < limit:
                lo = found[0]
            else:  # none, unknown, or not before the range: look below mid
                hi = mid
        low = lo + 1 if lo >= first else None
    if end is not None:  # the smallest in-order seq found with at >= end + LATE_AFTER: every wanted seq is below it
        limit, lo, hi = end + LATE_AFTER, first - 1, last + 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            found = probe(mid, hi)
            if found is False:  # no in-order entry in [mid, hi): every wanted seq is below mid
                hi = mid
            elif found is True:  # unknown: look above mid (hi stays a bound)
                lo = mid
            elif found[1] >= limit:
                hi = found[0]
            else:
                lo = found[0]
        high = hi if hi <= last else None
    return low, high


def resolve_patient(session: Session, text_value: str) -> int | None:
    """A patient filter typed by a user: the patient's MRN, or '#123' / a registry id; None if no such patient."""
    value = (text_value or "").strip()
    if not value:
        return None
    by_mrn = None if value.startswith("#") else session.scalar(select(m.Patient.id).where(m.Patient.mrn == value))
    if by_mrn is not None:
        return int(by_mrn)
    digits = value.lstrip("#")
    if digits.isdigit() and session.get(m.Patient, int(digits)) is not None:
        return int(digits)
    return None


CSV_HEADER = ("seq", "when", "user", "role", "workstation", "action", "patient_ids", "outcome", "emergency",
              "emergency_reason", "details")


def entry_cells(row: AuditRow) -> list[Any]:
    return [row.seq, _stamp(row.at)[:19].replace("T", " "), row.user_name, row.role or "", row.workstation or "",
            row.action, " ".join(str(p) for p in row.patient_ids), row.outcome, "yes" if row.emergency else "",
            row.emergency_reason or "", json.dumps(row.details, sort_keys=True) if row.details else ""]


def patient_ids_of(rows: Sequence[AuditRow]) -> list[int]:
    """Every patient the entries name: an export of the trail is audited with them."""
    return sorted({p for r in rows for p in r.patient_ids})


def write_entries_csv(rows: Sequence[AuditRow], target: str | IO[str]) -> int:
    """The rows as CSV (formula-safe, owner-only file) to a path or an open stream."""
    from panelmanager.core.safe_export import write_csv

    return write_csv(target, CSV_HEADER, (entry_cells(r) for r in rows))
