"""`protest-archive ingest`: a folder into an event, through the web upload's own path."""

from __future__ import annotations

import numpy as np
from PIL import Image

from tests.web_client import make_event, make_user


def _photo(path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8)).save(path)


def test_ingest_a_folder_twice_imports_once(app, tmp_path):
    with app.app_context():
        ana = make_user("ana@example.org")
        make_event("May Day", members=[ana])
        make_user("bo@example.org")
    folder = tmp_path / "card"
    (folder / "DCIM" / "100CANON").mkdir(parents=True)
    _photo(folder / "IMG_0001.jpg", 1)
    _photo(folder / "DCIM" / "100CANON" / "IMG_0002.png", 2)
    (folder / "notes.txt").write_text("meet at the theatre")
    (folder / ".hidden.jpg").write_bytes(b"junk")
    runner = app.test_cli_runner()
    args = ["ingest", str(folder), "--event", "may-day", "--photographer", "ana@example.org"]

    first = runner.invoke(args=args)
    assert first.exit_code == 1  # the text file is refused, the photos go on
    assert "2 queued, 0 already there, 1 refused (of 3 files)" in first.output
    assert "notes.txt" in first.output  # named on the operator's own terminal only

    second = runner.invoke(args=args)
    assert "0 queued, 2 already there, 1 refused" in second.output

    from archive.extensions import db
    from archive.models import Photo

    with app.app_context():
        photos = db.session.scalars(db.select(Photo)).all()
        assert len(photos) == 2
        assert {p.state for p in photos} == {"in_review"}
        dump = " ".join(str(v) for p in photos for v in vars(p).values())
        assert "IMG_000" not in dump and "100CANON" not in dump

    refused = runner.invoke(args=["ingest", str(folder), "--event", "may-day",
                                  "--photographer", "bo@example.org"])
    assert refused.exit_code == 2 and "not a photographer of this event" in refused.output
    unknown = runner.invoke(args=["ingest", str(folder), "--event", "nope",
                                  "--photographer", "ana@example.org"])
    assert unknown.exit_code == 2 and "no event" in unknown.output
