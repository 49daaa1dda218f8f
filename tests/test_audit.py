"""The audit chain under concurrent decisions, and entries tied to their transaction.

Several web processes decide at the same moment: each entry must still follow exactly
one other (no two entries chained after the same one), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError


def test_decisions_made_at_the_same_moment_chain_one_after_the_other(app):
    from archive import audit
    from archive.extensions import db
    from archive.models import AuditEntry, AuditHead

    threads, each = 6, 15
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def decide(i: int) -> None:
        try:
            with app.app_context():
                start.wait()
                for n in range(each):
                    audit.record(None, "probe", "probe", f"{i}-{n}")
                    if n % 3 == 0:  # sometimes two entries in one transaction
                        audit.record(None, "probe.second", "probe", f"{i}-{n}")
                    db.session.commit()
                db.session.remove()
        except BaseException as err:  # noqa: BLE001 - reported by the test
            errors.append(err)

    workers = [threading.Thread(target=decide, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not errors, errors
    with app.app_context():
        total = threads * (each + len(range(0, each, 3)))
        rows = db.session.execute(select(func.count(AuditEntry.id),
                                         func.count(AuditEntry.prev_hash.distinct()))).one()
        assert tuple(rows) == (total, total)  # no two entries after the same one
        assert audit.verify() is None
        newest = db.session.scalars(
            select(AuditEntry.entry_hash).order_by(AuditEntry.id.desc())).first()
        assert db.session.get(AuditHead, 1).last_hash == newest


def test_an_entry_is_written_with_its_change_or_not_at_all(app):
    from archive import audit
    from archive.extensions import db
    from archive.models import AuditEntry

    with app.app_context():
        audit.record(None, "kept", "probe", 1, "a reason")
        db.session.commit()
        audit.record(None, "dropped", "probe", 2)
        db.session.rollback()
        audit.record(None, "kept.too", "probe", 3)
        db.session.commit()
        actions = db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        assert actions == ["kept", "kept.too"]
        assert audit.verify() is None


# --- Append-only in the database, and audit-verify --------------------------------------


def drop_append_only() -> None:
    """What someone editing the database by hand must do first (needs an app context)."""
    from archive.extensions import db

    if db.engine.dialect.name == "sqlite":
        statements = ["DROP TRIGGER audit_entries_no_update",
                      "DROP TRIGGER audit_entries_no_delete"]
    else:
        statements = ["DROP TRIGGER audit_entries_no_change ON audit_entries",
                      "DROP TRIGGER audit_entries_no_truncate ON audit_entries"]
    for statement in statements:
        db.session.execute(text(statement))
    db.session.commit()


def _three_entries(app) -> list[int]:
    from archive import audit
    from archive.extensions import db
    from archive.models import AuditEntry

    with app.app_context():
        for n in range(3):
            audit.record(None, f"probe.{n}", "probe", n, f"reason {n}")
            db.session.commit()
        return db.session.scalars(select(AuditEntry.id).order_by(AuditEntry.id)).all()


@pytest.mark.parametrize("sql", [
    "UPDATE audit_entries SET reason = 'rewritten' WHERE id = :id",
    "UPDATE audit_entries SET actor_label = 'someone else', entry_hash = entry_hash "
    "WHERE id = :id",
    "DELETE FROM audit_entries WHERE id = :id",
    "DELETE FROM audit_entries",
])
def test_the_database_refuses_edits_and_deletions(app, sql):
    from archive import audit
    from archive.extensions import db

    ids = _three_entries(app)
    with app.app_context():
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(sql), {"id": ids[1]})
        db.session.rollback()
        if db.engine.dialect.name == "postgresql":
            with pytest.raises(DBAPIError, match="append-only"):
                db.session.execute(text("TRUNCATE audit_entries CASCADE"))
            db.session.rollback()
        assert audit.verify() is None
        assert db.session.scalar(text("SELECT count(*) FROM audit_entries")) == 3


@pytest.mark.parametrize("tamper", ["edit", "delete"])
def test_audit_verify_names_the_first_broken_entry(app, tamper):
    from archive.extensions import db

    ids = _three_entries(app)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit-verify"])
    assert result.exit_code == 0 and "3 entries" in result.output, result.output
    with app.app_context():
        drop_append_only()
        if tamper == "edit":
            db.session.execute(text("UPDATE audit_entries SET reason = 'nothing happened' "
                                    "WHERE id = :id"), {"id": ids[1]})
        else:
            db.session.execute(text("DELETE FROM audit_entries WHERE id = :id"),
                               {"id": ids[1]})
        db.session.commit()
    result = runner.invoke(args=["audit-verify"])
    broken = ids[1] if tamper == "edit" else ids[2]
    assert result.exit_code == 1, result.output
    assert f"broken at entry {broken} (probe.{1 if tamper == 'edit' else 2}" in result.output
