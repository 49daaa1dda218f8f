"""Does the archive's own processing keep up with the offline tool? (issue 13)

    .venv/bin/python bench/ingest.py [--photos 8]

On the same photos, in the same run, on the embedded setup (SQLite, SQLite queue, local
files):

(a) ``protest-archive scrub --jobs 1`` over all of them, start-up and model loading
    included (one process, as a user runs it);
(b) with ``protest-archive worker --workers 1`` already running and idle, the time from
    starting ``protest-archive ingest`` of the folder to the moment every photo has its
    public version (state ``in_review``: master, derivative and thumbnail stored, the
    self-check done).

It prints both and b/a; the bar is b/a <= 1.5. The photos are the first N of
``../shared/faces-tune`` (real crowds; they stay outside the repository) when present,
else copies of ``skimage.data.astronaut()`` at 1024x683.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

BIN = Path(sys.executable).parent
CLI = str(BIN / "protest-archive")
TUNE = Path(__file__).resolve().parents[2] / "shared" / "faces-tune"


def photos(n: int, folder: Path) -> list[Path]:
    folder.mkdir(parents=True)
    if TUNE.is_dir():
        chosen = sorted(p for p in TUNE.iterdir() if p.suffix == ".jpg")[:n]
        return [Path(shutil.copy(p, folder / f"{i:02d}.jpg")) for i, p in enumerate(chosen)]
    from PIL import Image
    from skimage import data

    base = Image.fromarray(data.astronaut()).resize((1024, 683))
    out = []
    for i in range(n):
        path = folder / f"{i:02d}.jpg"
        base.rotate(i * 0.5).save(path, quality=92)  # distinct bytes: no duplicates
        out.append(path)
    return out


def setup(env: dict[str, str]) -> None:
    subprocess.run([CLI, "init-db"], env=env, check=True, capture_output=True)
    code = (
        "from archive.app import create_app\n"
        "from archive.extensions import db\n"
        "from archive.models import Event, User\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    u = User(email='bench@example.org', display_name='Bench', role='photographer')\n"
        "    u.set_password('a long bench password')\n"
        f"    e = Event(slug='bench', name='Bench', date=date.fromisoformat('{date.today()}'))\n"
        "    e.photographers.append(u)\n"
        "    db.session.add_all([u, e]); db.session.commit()\n"
    )
    subprocess.run([sys.executable, "-c", "from datetime import date\n" + code], env=env,
                   check=True)


def count_done(db_path: Path) -> int:
    with sqlite3.connect(db_path) as conn:
        return conn.execute("select count(*) from photos where state = 'in_review'").fetchone()[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--photos", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = photos(args.photos, work / "photos")
        db_path = work / "archive.db"
        env = dict(os.environ, ARCHIVE_DATABASE_URL=f"sqlite:///{db_path}",
                   ARCHIVE_QUEUE_URL=f"sqlite:///{work / 'queue.db'}",
                   ARCHIVE_INSTANCE=str(work / "instance"), ARCHIVE_UPLOADS=str(work / "up"),
                   ARCHIVE_SECRET_KEY="bench-key", ARCHIVE_ENV="production")
        setup(env)

        started = time.perf_counter()
        subprocess.run([CLI, "scrub", *map(str, files), "--out", str(work / "out"),
                        "--report", str(work / "report.json"), "--jobs", "1"],
                       env=env, check=True, capture_output=True)
        scrub = time.perf_counter() - started

        worker = subprocess.Popen([CLI, "worker", "--workers", "1"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        try:
            time.sleep(8)  # the worker is up and idle (its start-up is not counted)
            started = time.perf_counter()
            subprocess.run([CLI, "ingest", str(work / "photos"), "--event", "bench",
                            "--photographer", "bench@example.org"], env=env, check=True,
                           capture_output=True)
            while count_done(db_path) < len(files):
                if time.perf_counter() - started > 600:
                    sys.exit("the worker did not finish in 10 minutes")
                time.sleep(0.05)
            ingest = time.perf_counter() - started
        finally:
            os.killpg(worker.pid, signal.SIGINT)
            worker.wait(timeout=60)
    print(f"{len(files)} photos ({'faces-tune' if TUNE.is_dir() else 'astronaut'})")
    print(f"(a) scrub --jobs 1, start-up included: {scrub:.1f} s")
    print(f"(b) ingest to every public version made, one worker: {ingest:.1f} s")
    ratio = ingest / scrub
    print(f"b/a = {ratio:.2f}   target <= 1.5: {'met' if ratio <= 1.5 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
