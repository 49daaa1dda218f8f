"""Face coverage on real crowd photos: run `protest-archive scrub` on ../shared/faces-tune
and score the obscured regions with ../shared/tools/score_faces.py.

    .venv/bin/python bench/faces.py [--jobs N] [--keep DIR]

Prints the scorer's figures: the share of recognisable faces (at least 10 px, not marked
invalid) that are at least 80% inside an obscured region (bar: 96%), and the mean share
of each image that was obscured (bar: at most 20%), plus the time per photo. The photos
and the scrubbed outputs stay outside the repository (a temporary folder by default).

The scorer counts each reported region as a filled rectangle, but what is obscured is
the ellipse inscribed in it, so this also prints the recall counted on the ellipses
themselves (same 80% rule, same faces): the stricter, truer figure.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
TUNE = SHARED / "faces-tune"
SCORER = SHARED / "tools" / "score_faces.py"
CLI = Path(sys.executable).with_name("protest-archive")


def ellipse_recall(masked: dict[str, list[list[float]]], cover: float = 0.8) -> float:
    """Like the scorer's recognisable recall, but each region counts as its ellipse."""
    import numpy as np
    from PIL import Image, ImageDraw

    truth = json.loads((TUNE / "ground_truth.json").read_text())
    hit = total = 0
    for name, entry in truth.items():
        with Image.open(TUNE / name) as im:
            size = im.size
        mask = Image.new("1", size, 0)
        draw = ImageDraw.Draw(mask)
        for x1, y1, x2, y2 in masked.get(name, []):
            draw.ellipse((x1, y1, x2 - 1, y2 - 1), fill=1)
        arr = np.asarray(mask, dtype=bool)
        for face in entry["faces"]:
            x, y, w, h = face["box"]
            if face.get("invalid", 0) or min(w, h) < 10:
                continue
            region = arr[int(y):int(y + h), int(x):int(x + w)]
            total += 1
            hit += bool(region.size) and region.mean() >= cover
    return hit / max(total, 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--keep", type=Path, help="keep the outputs and report in this folder")
    args = ap.parse_args()
    if not TUNE.is_dir():
        print(f"skipped: {TUNE} is absent")
        return 0
    photos = sorted(p for p in TUNE.iterdir() if p.suffix.lower() == ".jpg")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        report_path, masked_path = work / "report.json", work / "masked.json"
        started = time.perf_counter()
        subprocess.run(
            [str(CLI), "scrub", *map(str, photos), "--out", str(work / "out"),
             "--report", str(report_path), "--jobs", str(args.jobs)],
            check=True,
        )
        elapsed = time.perf_counter() - started
        report = json.loads(report_path.read_text())
        failed = [k for k, v in report.items() if v["error"]]
        masked = {Path(k).name: [f[:4] for f in v["faces"]] for k, v in report.items()}
        masked_path.write_text(json.dumps(masked))
        print(f"photos: {len(photos)}, failed: {len(failed)}, "
              f"{elapsed / len(photos):.2f} s per photo with {args.jobs} worker(s) "
              f"({elapsed * args.jobs / len(photos):.2f} s of one core)")
        print(f"regions per photo: {sum(map(len, masked.values())) / len(masked):.1f}")
        scored = subprocess.run(
            [sys.executable, str(SCORER), str(TUNE / "ground_truth.json"), str(masked_path)],
            check=True, capture_output=True, text=True,
        ).stdout
        print(scored, end="")
        print(f"recall of recognisable faces counted on the obscured ellipses: "
              f"{ellipse_recall(masked):.3f}")
        print("bars: recognisable recall >= 0.96, mean obscured share <= 0.20 "
              "(the deface tool's defaults: 0.848)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
