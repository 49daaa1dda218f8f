"""Face coverage on real crowd photos, for each detector configuration: run
`protest-archive scrub` on ../shared/faces-tune and score the obscured regions.

    .venv/bin/python bench/faces.py [--configs fused,centerface-2] [--jobs N] [--keep DIR]

For each configuration (``ARCHIVE_DETECTOR``) it prints: the recall of recognisable faces
(at least 10 px on the short side, not marked invalid) and of all labelled faces, both
counted on the ellipses really obscured (``score_faces.py --ellipse --images``: a face
counts when 80% of its box is inside them); the recall by face size (short side 10-20,
20-40, 40-80, 80+ px); the mean share of each image obscured; the regions per photo and
per labelled face; how many regions are numbered for attendees (score at least the
configuration's ``confident``) and the share of those that overlap a labelled face
(IoU >= 0.3); and the seconds of one core per photo. Bars (issue 13): 99.5% of
recognisable faces, 97% of all, at most 15% of the area, numbered regions >= 85% faces.

The photos and outputs stay outside the repository (a temporary folder by default).
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

import numpy as np
from PIL import Image, ImageDraw

from archive.imaging.faces import CONFIGURATIONS, box_iou

SHARED = Path(__file__).resolve().parents[2] / "shared"
TUNE = SHARED / "faces-tune"
SCORER = SHARED / "tools" / "score_faces.py"
CLI = Path(sys.executable).with_name("protest-archive")
BINS = ((10, 20), (20, 40), (40, 80), (80, 10**9))


def breakdown(masked: dict[str, list[list[float]]], confident: float,
              mask_scale: dict[str, tuple[float, float]] | None = None) -> dict:
    """Recall by face size on the obscured ellipses, and how honest the numbering is."""
    truth = json.loads((TUNE / "ground_truth.json").read_text())
    bins = {b: [0, 0] for b in BINS}
    numbered = numbered_faces = regions = labelled = 0
    for name, entry in truth.items():
        found = masked.get(name, [])
        with Image.open(TUNE / name) as im:
            size = im.size
        mask = Image.new("1", size, 0)
        draw = ImageDraw.Draw(mask)
        for x1, y1, x2, y2, _score in found:
            draw.ellipse((x1, y1, x2 - 1, y2 - 1), fill=1)
        arr = np.asarray(mask, dtype=bool)
        labels = np.array([[f["box"][0], f["box"][1], f["box"][0] + f["box"][2],
                            f["box"][1] + f["box"][3]] for f in entry["faces"]],
                          float).reshape(-1, 4)
        regions += len(found)
        labelled += len(labels)
        sure = np.array([r[:4] for r in found if r[4] >= confident], float).reshape(-1, 4)
        if len(sure) and len(labels):
            # The report gives the obscured (widened) box; its face box is the middle of it.
            numbered += len(sure)
            numbered_faces += int((box_iou(_shrunk(sure), labels).max(axis=1) >= 0.3).sum())
        else:
            numbered += len(sure)
        for face in entry["faces"]:
            x, y, w, h = face["box"]
            if face.get("invalid", 0) or min(w, h) < 10:
                continue
            region = arr[int(y):int(y + h), int(x):int(x + w)]
            hit = bool(region.size) and region.mean() >= 0.8
            for lo, hi in BINS:
                if lo <= min(w, h) < hi:
                    bins[(lo, hi)][0] += 1
                    bins[(lo, hi)][1] += hit
    return {
        "by_size": {f"{lo}-{hi if hi < 10**9 else ''}": (c / max(t, 1), t)
                    for (lo, hi), (t, c) in bins.items()},
        "regions_per_labelled_face": regions / max(labelled, 1),
        "regions_per_photo": regions / max(len(truth), 1),
        "numbered": numbered,
        "numbered_on_a_face": numbered_faces / max(numbered, 1),
    }


def _shrunk(boxes: np.ndarray) -> np.ndarray:
    """The face box inside a reported region: regions are widened 1.4 to 1.6 times
    (``obscuring.mask_scale_for``); 1.45 is close enough for an IoU of 0.3."""
    cx, cy = (boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2
    hw, hh = (boxes[:, 2] - boxes[:, 0]) / 2.9, (boxes[:, 3] - boxes[:, 1]) / 2.9
    return np.stack([cx - hw, cy - hh, cx + hw, cy + hh], axis=1)


def run(config: str, photos: list[Path], work: Path, jobs: int) -> dict:
    report_path, masked_path = work / "report.json", work / "masked.json"
    env = {**os.environ, "ARCHIVE_DETECTOR": config}
    started = time.perf_counter()
    subprocess.run(
        [str(CLI), "scrub", *map(str, photos), "--out", str(work / "out"),
         "--report", str(report_path), "--jobs", str(jobs)],
        check=True, env=env, stdout=subprocess.DEVNULL,
    )
    elapsed = time.perf_counter() - started
    report = json.loads(report_path.read_text())
    failed = [k for k, v in report.items() if v["error"]]
    masked = {Path(k).name: v["faces"] for k, v in report.items()}
    masked_path.write_text(json.dumps({k: [f[:4] for f in v] for k, v in masked.items()}))
    scored = subprocess.run(
        [sys.executable, str(SCORER), str(TUNE / "ground_truth.json"), str(masked_path),
         "--ellipse", "--images", str(TUNE)],
        check=True, capture_output=True, text=True,
    ).stdout
    return {"failed": failed, "seconds": elapsed * jobs / len(photos), "scored": scored,
            "masked": masked}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configs", default="fused,centerface-2")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--keep", type=Path, help="keep the outputs and reports in this folder")
    args = ap.parse_args()
    if not TUNE.is_dir():
        print(f"skipped: {TUNE} is absent")
        return 0
    photos = sorted(p for p in TUNE.iterdir() if p.suffix.lower() == ".jpg")
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for config in args.configs.split(","):
            work = (args.keep or Path(tmp)) / config
            work.mkdir(parents=True, exist_ok=True)
            result = run(config, photos, work, args.jobs)
            extra = breakdown(result["masked"], CONFIGURATIONS[config].confident)
            bad += len(result["failed"])
            print(f"== {config}: {len(photos)} photos, {len(result['failed'])} failed, "
                  f"{result['seconds']:.2f} s of one core per photo (with {args.jobs} jobs)")
            print(result["scored"], end="")
            print("recall of recognisable faces by short side: " + ", ".join(
                f"{k} px {r:.3f} (of {n})" for k, (r, n) in extra["by_size"].items()))
            print(f"regions per photo {extra['regions_per_photo']:.1f}, per labelled face "
                  f"{extra['regions_per_labelled_face']:.2f}; numbered for attendees "
                  f"{extra['numbered']}, of which on a labelled face "
                  f"{extra['numbered_on_a_face']:.3f}")
    print("bars: recognisable >= 0.995, all >= 0.97, area <= 0.15, numbered on a face >= 0.85")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
