"""`protest-archive scrub`, run as the installed console script in a real process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from .conftest import ASTRONAUT_FACE, metadata_tags

CLI = str(Path(sys.executable).with_name("protest-archive"))


def scrub(*args: str | Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([CLI, "scrub", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


@pytest.fixture
def photos(tmp_path: Path, astronaut: Image.Image) -> Path:
    d = tmp_path / "in"
    (d / "day two").mkdir(parents=True)
    astronaut.save(d / "a.png")
    astronaut.save(d / "a.webp", quality=90)
    astronaut.save(d / "a.jpg", quality=90, comment=b"secret place")
    astronaut.save(d / "day two" / "b.JPG", quality=90)
    (d / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (d / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    return d


def test_folder_scrub_names_outputs_reports_and_fails_loudly(photos, tmp_path):
    out, report = tmp_path / "out", tmp_path / "report.json"
    result = scrub(photos, "--out", out, "--report", report, "--jobs", "2")

    assert result.returncode == 1, result.stderr
    assert "4 of 5 photos scrubbed" in result.stderr
    entries = json.loads(report.read_text())
    assert list(entries) == [str(photos / n) for n in
                             ("a.jpg", "a.png", "a.webp", "broken.jpg", "day two/b.JPG")]
    # a.jpg, a.png and a.webp may not all become a.jpg; the subfolder is kept.
    produced = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert produced == ["a.jpg.jpg", "a.png.jpg", "a.webp.jpg", "day two/b.jpg"]
    bad = entries[str(photos / "broken.jpg")]
    assert bad["output"] is None and bad["error"] and bad["faces"] == []
    for key, entry in entries.items():
        if entry["error"]:
            continue
        assert Path(entry["output"]).is_file()
        assert metadata_tags(Path(entry["output"])) == {}, key
        assert set(entry) == {"output", "faces", "metadata_removed", "notes", "error"}
        # Each face is [x1, y1, x2, y2, score], and the astronaut's face is among them.
        assert all(len(f) == 5 and 0 < f[4] <= 1 for f in entry["faces"])
        assert any(f[0] <= 225 <= f[2] and f[1] <= 115 <= f[3] for f in entry["faces"])
    assert entries[str(photos / "a.jpg")]["metadata_removed"]["comments"] is True
    assert ASTRONAUT_FACE  # (the face centre used above lies inside it)


def test_all_good_exits_zero_and_never_overwrites_an_input(astronaut, tmp_path):
    src = tmp_path / "photo.jpg"
    astronaut.save(src, quality=90)
    before = src.read_bytes()
    # Output folder == input folder: the output must not replace the original.
    result = scrub(src, "--out", tmp_path, "--report", tmp_path / "r.json", "--jobs", "1")
    assert result.returncode == 0, result.stderr
    assert src.read_bytes() == before
    entry = json.loads((tmp_path / "r.json").read_text())[str(src)]
    assert entry["output"] == str(tmp_path / "photo-2.jpg") and entry["error"] is None


def test_failed_input_leaves_no_file_and_others_go_on(tmp_path, astronaut):
    d = tmp_path / "in"
    d.mkdir()
    (d / "empty.jpg").write_bytes(b"")
    astronaut.save(d / "good.jpg")
    out = tmp_path / "out"
    result = scrub(d, "--out", out, "--report", tmp_path / "r.json")
    assert result.returncode == 1
    assert sorted(p.name for p in out.iterdir()) == ["good.jpg"]
    entries = json.loads((tmp_path / "r.json").read_text())
    assert entries[str(d / "empty.jpg")]["error"] == "The file is empty."


def test_usage_errors_are_clear(tmp_path):
    empty = tmp_path / "nothing"
    empty.mkdir()
    result = scrub(empty, "--out", tmp_path / "o", "--report", tmp_path / "r.json")
    assert result.returncode == 2 and "no files found" in result.stderr
    result = scrub(tmp_path / "missing.jpg", "--out", tmp_path / "o", "--report", "r.json")
    assert result.returncode == 2 and "does not exist" in result.stderr


@pytest.mark.parametrize(("name", "value", "words"), [
    ("ARCHIVE_MAX_UPLOAD_MB", "sixty", "ARCHIVE_MAX_UPLOAD_MB must be a whole number"),
    ("ARCHIVE_OBSCURE_METHOD", "pixelate", "obscure method must be one of heavy_blur, solid"),
    ("ARCHIVE_MASK_SCALE", "0.5", "mask scale must be between 1.0 and 3.0"),
])
def test_bad_configuration_is_a_clear_error(tmp_path, astronaut, name, value, words):
    src = tmp_path / "p.jpg"
    astronaut.save(src)
    result = scrub(src, "--out", tmp_path / "o", "--report", tmp_path / "r.json",
                   env={name: value})
    assert result.returncode == 2 and words in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "o").exists()


def test_configuration_chooses_the_obscuring_method(tmp_path, astronaut):
    src = tmp_path / "p.jpg"
    astronaut.save(src, quality=95)
    result = scrub(src, "--out", tmp_path / "o", "--report", tmp_path / "r.json",
                   env={"ARCHIVE_OBSCURE_METHOD": "solid"})
    assert result.returncode == 0, result.stderr
    with Image.open(tmp_path / "o" / "p.jpg") as im:
        r, g, b = im.convert("RGB").getpixel((222, 120))  # the middle of her face
    assert all(abs(c - 64) <= 6 for c in (r, g, b)), (r, g, b)


def test_show_values_prints_to_the_terminal_but_not_the_report(tmp_path, astronaut):
    src = tmp_path / "p.jpg"
    astronaut.save(src, comment=b"behind the old mill")
    result = scrub(src, "--out", tmp_path / "o", "--report", tmp_path / "r.json",
                   "--show-values")
    assert result.returncode == 0
    assert "behind the old mill" in result.stderr
    assert "behind the old mill" not in (tmp_path / "r.json").read_text()


def test_exiftool_is_available():
    assert shutil.which("exiftool"), "make test installs exiftool"


def test_a_crashing_worker_costs_only_its_own_file(tmp_path, astronaut, settings):
    """A worker process that dies mid-file (a segfault in a decoder, say) fails that file
    with a clear error; the files in flight beside it are retried and succeed."""
    from archive.imaging.batch import collect_inputs, plan_outputs, run_batch

    from .crashing_worker import crash_on_named

    d = tmp_path / "in"
    d.mkdir()
    for name in ("a.jpg", "crash.jpg", "b.jpg", "c.jpg", "d.jpg"):
        astronaut.resize((128, 128)).save(d / name)
    out = tmp_path / "out"
    jobs = plan_outputs(collect_inputs([str(d)], out), out)
    results: dict[str, dict] = {}
    run_batch(jobs, settings, 2, lambda k, e, v: results.__setitem__(k, e),
              worker=crash_on_named)

    assert sorted(Path(k).name for k in results) == ["a.jpg", "b.jpg", "c.jpg", "crash.jpg",
                                                      "d.jpg"]
    crashed = results[str(d / "crash.jpg")]
    assert crashed["output"] is None and "crash" in crashed["error"]
    assert all(e["error"] is None for k, e in results.items() if "crash" not in k)
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "b.jpg", "c.jpg", "d.jpg"]


def test_a_hanging_file_is_stopped_and_the_batch_goes_on(tmp_path, astronaut, settings):
    """A file that never finishes (a parser in a loop) is given up on after the time
    limit; the files beside it are retried and succeed, and the batch ends."""
    from archive.imaging.batch import collect_inputs, plan_outputs, run_batch

    from .crashing_worker import hang_on_named

    d = tmp_path / "in"
    d.mkdir()
    for name in ("a.jpg", "hang.jpg", "b.jpg"):
        astronaut.resize((128, 128)).save(d / name)
    out = tmp_path / "out"
    jobs = plan_outputs(collect_inputs([str(d)], out), out)
    results: dict[str, dict] = {}
    run_batch(jobs, settings, 2, lambda k, e, v: results.__setitem__(k, e),
              worker=hang_on_named, file_timeout=8)
    hung = results[str(d / "hang.jpg")]
    assert hung["output"] is None and "took longer than 8 s" in hung["error"]
    assert results[str(d / "a.jpg")]["error"] is None
    assert results[str(d / "b.jpg")]["error"] is None
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "b.jpg"]


def test_a_name_that_is_not_utf8_is_reported_not_a_crash(tmp_path, astronaut):
    """Old cards and zips carry Latin-1 names; the report and terminal must cope."""
    d = tmp_path / "in"
    d.mkdir()
    name = os.fsdecode(b"caf\xe9.jpg")
    astronaut.save(d / name)
    result = scrub(d, "--out", tmp_path / "out", "--report", tmp_path / "r.json")
    assert result.returncode == 0, result.stderr
    entries = json.loads((tmp_path / "r.json").read_text())
    [(key, entry)] = entries.items()
    assert key.endswith("caf\\xe9.jpg") and entry["error"] is None
    assert len(list((tmp_path / "out").iterdir())) == 1


def test_existing_files_are_never_replaced(tmp_path, astronaut):
    """Scrubbing a.png into its own folder must not destroy the a.jpg already there,
    and --report may not point at a photo or at a file that is not a report."""
    d = tmp_path / "photos"
    d.mkdir()
    astronaut.save(d / "a.png")
    astronaut.save(d / "a.jpg", comment=b"the original")
    original = (d / "a.jpg").read_bytes()
    result = scrub(d / "a.png", "--out", d, "--report", tmp_path / "r.json")
    assert result.returncode == 0, result.stderr
    assert (d / "a.jpg").read_bytes() == original
    assert json.loads((tmp_path / "r.json").read_text())[str(d / "a.png")]["output"] == str(
        d / "a-2.jpg")

    result = scrub(d / "a.png", "--out", tmp_path / "o", "--report", d / "a.png")
    assert result.returncode == 2 and "is one of the photos" in result.stderr
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes")
    result = scrub(d / "a.png", "--out", tmp_path / "o", "--report", notes)
    assert result.returncode == 2 and "is not a scrub report" in result.stderr
    assert notes.read_text() == "my notes" and (d / "a.png").stat().st_size > 1000


def test_the_same_file_named_twice_is_scrubbed_once(tmp_path, astronaut):
    astronaut.save(tmp_path / "c.jpg")
    result = subprocess.run([CLI, "scrub", "c.jpg", "./c.jpg", "--out", "o", "--report",
                             "r.json"], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert list(json.loads((tmp_path / "r.json").read_text())) == ["c.jpg"]
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["c.jpg"]
