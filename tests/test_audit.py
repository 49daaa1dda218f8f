"""The audit chain under concurrent decisions, and entries tied to their transaction.

Several web processes decide at the same moment: each entry must still follow exactly
one other (no two entries chained after the same one), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading

from sqlalchemy import func, select


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
