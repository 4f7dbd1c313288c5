"""The CME access log (art. 12 alin. (2) lit. a): append-only in the database itself."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from library.cme import audit
from library.db import Database

ORGANISER = audit.Actor("ana", "instructor", user_id=1, client="127.0.0.1")


def test_art_12_2a_record_and_filter_entries(db: Database) -> None:
    audit.record(db, ORGANISER, audit.Action.PROGRAMME_CREATE, target=audit.Target.PROGRAMME,
                 target_id=7, programme_id=7, detail={"ref": "P-7"})
    audit.record(db, ORGANISER, audit.Action.ATTENDANCE_VIEW, target=audit.Target.PROGRAMME,
                 target_id=7, programme_id=7)
    audit.record(db, audit.Actor("dan", "student", 2), audit.Action.TEST_START,
                 target=audit.Target.ATTEMPT, target_id="abc", programme_id=8)
    everything = audit.entries(db)
    assert [e.action for e in everything] == ["test.start", "attendance.view", "programme.create"]
    mine = audit.entries(db, audit.Filter(programme_id=7, action="programme.create"))
    assert len(mine) == 1 and mine[0].detail == {"ref": "P-7"} and mine[0].client == "127.0.0.1"
    assert [e.actor for e in audit.entries(db, audit.Filter(actor="dan"))] == ["dan"]
    assert audit.first_entry_at(db) == everything[-1].at


@pytest.mark.parametrize("statement", [
    "UPDATE cme_audit_log SET actor = 'someone else'",
    "DELETE FROM cme_audit_log",
])
def test_art_12_2a_the_database_refuses_to_rewrite_the_log(db: Database, statement: str) -> None:
    audit.record(db, ORGANISER, audit.Action.LIST_EXPORT, target=audit.Target.LIST,
                 target_id="participants", programme_id=7)
    with pytest.raises(DBAPIError, match="append-only"), db.session() as session:
        session.execute(text(statement))
    [entry] = audit.entries(db)
    assert entry.actor == "ana" and entry.action == "list.export"
