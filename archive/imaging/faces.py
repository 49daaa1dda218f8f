"""Face detection: passes of two models through OpenCV, fused into one set of regions.

Faces in protest crowds are small, blurred and half hidden; no single pass of one model
finds them all. The photo is first normalised so that its longer side is
``REFERENCE_SIDE`` pixels, and then a configured set of *passes* runs, each one model
(CenterFace through ``cv2.dnn``, or YuNet through ``cv2.FaceDetectorYN``) at one scale
with a low threshold. Boxes of all passes that overlap are one candidate; its
*evidence* is the sum, over the passes that saw it, of each pass's best score. A
candidate seen faintly by several passes is far more likely a face than one seen
faintly by one pass, so the rule to keep it asks for less evidence when passes agree.
The kept region is the score-weighted mean of its boxes, which sits on the face better
than any one of them (bench/faces.py has the measurements behind every number here).

The models ship inside the package (``archive/imaging/models/``) and each file's SHA-256
is checked before it is loaded. The detector is loaded once per process
(:func:`get_detector`).
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

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

MODELS_DIR = Path(__file__).with_name("models")
#: The model files and their SHA-256 (see models/README.md for sources and licences).
MODEL_FILES = {
    "centerface": ("centerface.onnx",
                   "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc"),
    "yunet_n": ("yunet_n_dynamic.onnx",
                "104ee26c71d5c270ce79a6b3dced91c91013260d29a6bf18f9296c5b8c4c2b12"),
    "yunet_s": ("yunet_s_dynamic.onnx",
                "daede24002cc8590f457998cc5e6c9e8b82f45f6bd969506a8913cd4ed10a2d3"),
}

#: CenterFace: stride of its output maps, and the multiple its input sides must have.
_STRIDE = 4
_ALIGN = 32
_OUTPUTS = ["537", "538", "539", "540"]


class ModelError(RuntimeError):
    """A model file is missing or is not the file the archive was measured with."""


@dataclass(frozen=True)
class Pass:
    """One run of one model over the whole photo."""

    #: A key of :data:`MODEL_FILES`.
    model: str
    #: Relative to the reference size (:func:`reference_scale`).
    scale: float
    #: Boxes scoring below this are dropped.
    threshold: float
    #: Boxes taller than this (reference pixels) are dropped: an upscaled pass sees a
    #: large face too close up, and its tall boxes are mostly false alarms.
    max_height: float = math.inf
    #: A box of this pass scoring at least this is kept on its own evidence (the rule
    #: of the engine before fusion, kept so that fusing only ever adds regions).
    alone: float = math.inf
    #: Whether this pass's score counts as the region's score (which decides what is
    #: numbered). YuNet scores a heavily blurred head up to about 0.5, so its passes add
    #: evidence but do not make a region "confident".
    scores: bool = True


@dataclass(frozen=True)
class DetectorParams:
    """A named, measured set of passes and the rule that fuses them (bench/faces.py)."""

    name: str
    passes: tuple[Pass, ...]
    #: Boxes overlapping by at least this IoU are one candidate.
    fuse_iou: float = 0.3
    #: A candidate is kept when its evidence reaches ``evidence_agreeing`` and at least
    #: ``agree`` passes saw it, or ``evidence_alone`` otherwise...
    agree: int = 1
    evidence_agreeing: float = 0.0
    evidence_alone: float = 0.0
    #: ...but a candidate taller than ``large_height`` (reference pixels) needs
    #: ``evidence_large``: real large faces score high, and a large false region costs
    #: a large share of the photo.
    large_height: float = math.inf
    evidence_large: float = 0.0
    #: A box scoring at least this in one pass is kept whatever the rule says; regions
    #: this sure are the ones numbered for attendees (the others are "also covered").
    confident: float = 0.5
    #: True: the region is the score-weighted mean of its boxes; False: its best box.
    weighted: bool = True
    #: Passes whose input is larger than this on either side run on overlapping tiles,
    #: which bounds memory; a 3:2 or 16:9 photo never needs them, a panorama does.
    tile: int = 2560
    #: Overlap between tiles, in the pass's pixels: larger faces are left to the
    #: smaller-scale passes, which see them whole.
    overlap: int = 128
    #: No pass enlarges a photo more than this: a thumbnail-sized image blown up 16 or
    #: 32 times is all interpolation, where YuNet sees "faces" in JPEG noise (a photo of
    #: 512 px and more never reaches this).
    max_factor: float = 4.0

    def with_tiles(self, tile: int, overlap: int) -> DetectorParams:
        return replace(self, tile=tile, overlap=overlap)


#: The configurations measured (bench/faces.py prints each; the README keeps the table).
CONFIGURATIONS: dict[str, DetectorParams] = {
    # The engine before issue 13: CenterFace at two scales, merged by plain NMS.
    "centerface-2": DetectorParams(
        name="centerface-2",
        passes=(Pass("centerface", 1.75, 0.04, max_height=64, alone=0.04),
                Pass("centerface", 0.75, 0.1, alone=0.1)),
        weighted=False,
    ),
    # Four CenterFace passes and one YuNet pass, fused by evidence: everything the
    # two-pass engine kept, and the faint faces that three passes agree on.
    "fused": DetectorParams(
        name="fused",
        passes=(
            Pass("centerface", 0.75, 0.02, alone=0.1),
            Pass("centerface", 1.0, 0.02),
            Pass("centerface", 1.25, 0.02, max_height=96),
            Pass("centerface", 1.75, 0.02, max_height=64, alone=0.04),
            Pass("yunet_n", 1.0, 0.05, scores=False),
        ),
        agree=3, evidence_agreeing=0.1, evidence_alone=0.3,
        large_height=96, evidence_large=0.5,
    ),
    # The self-check's detector: one CenterFace pass, a few times cheaper than the main
    # passes (it runs on every rendering). YuNet was tried here and dropped: it scored a
    # suit's patch beside a freshly obscured region 0.46 to 0.62 from one rendering to
    # the next, holding photos back at random.
    "self-check": DetectorParams(
        name="self-check",
        passes=(Pass("centerface", 1.0, 0.2, alone=0.2),),
        weighted=False,
    ),
}
DEFAULT_CONFIGURATION = "fused"


@dataclass(frozen=True)
class Face:
    """A detected face box in the pixels of the image given to the detector.

    ``score`` is the best single pass's score: a region at or above the configuration's
    ``confident`` score is numbered for attendees; the rest are obscured all the same.
    """

    x1: float
    y1: float
    x2: float
    y2: float
    score: float
    evidence: float = field(default=0.0, compare=False)


_verified: set[str] = set()


def model_file(model: str) -> str:
    """The path of a shipped model file, checked against its SHA-256 once per process."""
    try:
        name, digest = MODEL_FILES[model]
    except KeyError:
        raise ModelError(f"unknown face model {model!r}") from None
    path = MODELS_DIR / name
    if model not in _verified:
        try:
            data = path.read_bytes()
        except OSError as err:
            raise ModelError(f"face model file {path} is missing ({err.strerror})") from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise ModelError(f"face model file {path} is not the shipped file (SHA-256 "
                             "differs); reinstall the package")
        _verified.add(model)
    return str(path)


class _CenterFace:
    """CenterFace on OpenCV's DNN module."""

    def __init__(self) -> None:
        self._net = cv2.dnn.readNetFromONNX(model_file("centerface"))

    def run(self, rgb: np.ndarray, threshold: float) -> np.ndarray:
        """Boxes (n, 5: x1, y1, x2, y2, score) in ``rgb``'s pixels; its sides must be
        multiples of 32."""
        h, w = rgb.shape[:2]
        # Trained on RGB in 0..255 with no mean subtraction.
        blob = cv2.dnn.blobFromImage(rgb, 1.0, (w, h), (0, 0, 0), swapRB=False, crop=False)
        self._net.setInput(blob)
        heatmap, scale, offset, _landmarks = self._net.forward(_OUTPUTS)
        return _decode(heatmap[0, 0], scale[0], offset[0], threshold, w, h)

    @staticmethod
    def input_size(w: int, h: int, factor: float) -> tuple[int, int]:
        return (max(_ALIGN, round(w * factor / _ALIGN) * _ALIGN),
                max(_ALIGN, round(h * factor / _ALIGN) * _ALIGN))


class _YuNet:
    """YuNet through ``cv2.FaceDetectorYN`` (its own decoding and NMS)."""

    def __init__(self, model: str) -> None:
        self._det = cv2.FaceDetectorYN.create(model_file(model), "", (320, 320), 0.5, 0.3,
                                              20000)

    def run(self, rgb: np.ndarray, threshold: float) -> np.ndarray:
        h, w = rgb.shape[:2]
        self._det.setInputSize((w, h))
        self._det.setScoreThreshold(threshold)
        _, found = self._det.detect(np.ascontiguousarray(rgb[:, :, ::-1]))
        if found is None:
            return np.empty((0, 5), np.float32)
        x, y, bw, bh, score = found[:, 0], found[:, 1], found[:, 2], found[:, 3], found[:, 14]
        return np.stack([x, y, x + bw, y + bh, score], axis=1).astype(np.float32)

    @staticmethod
    def input_size(w: int, h: int, factor: float) -> tuple[int, int]:
        return max(32, round(w * factor)), max(32, round(h * factor))


class FaceDetector:
    """The passes of one configuration. Not thread-safe: one per process."""

    def __init__(self, params: DetectorParams | None = None) -> None:
        self.params = params or CONFIGURATIONS[DEFAULT_CONFIGURATION]
        self._models: dict[str, _CenterFace | _YuNet] = {}
        for p in self.params.passes:
            if p.model not in self._models:
                self._models[p.model] = (_CenterFace() if p.model == "centerface"
                                         else _YuNet(p.model))

    def _run_pass(self, image: np.ndarray, p: Pass, factor: float) -> np.ndarray:
        """Run one pass at ``factor`` times ``image``; boxes come back in ``image`` pixels."""
        model = self._models[p.model]
        h, w = image.shape[:2]
        pw, ph = model.input_size(w, h, factor)
        interp = cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR
        scaled = cv2.resize(image, (pw, ph), interpolation=interp)
        tile, overlap = self.params.tile, self.params.overlap
        found = []
        if pw <= tile and ph <= tile:
            found.append(model.run(scaled, p.threshold))
        else:
            tw, th = min(tile, pw), min(tile, ph)
            for y0 in _tile_starts(ph, th, overlap):
                for x0 in _tile_starts(pw, tw, overlap):
                    boxes = model.run(
                        np.ascontiguousarray(scaled[y0 : y0 + th, x0 : x0 + tw]), p.threshold)
                    boxes[:, [0, 2]] += x0
                    boxes[:, [1, 3]] += y0
                    found.append(boxes)
        boxes = np.concatenate(found) if found else np.empty((0, 5), np.float32)
        boxes[:, [0, 2]] *= w / pw
        boxes[:, [1, 3]] *= h / ph
        return boxes

    def detect(self, rgb: np.ndarray) -> list[Face]:
        """Find faces in an RGB uint8 array (any size); boxes are in its pixels.

        For a large photo, pass a downscaled copy and scale the boxes back: the passes
        work relative to :func:`reference_scale` anyway (see ``pipeline.detect_faces``).
        """
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError("detector needs an RGB uint8 array")
        h, w = rgb.shape[:2]
        norm = reference_scale(w, h)
        per_pass = []
        for p in self.params.passes:
            boxes = self._run_pass(rgb, p, min(norm * p.scale, self.params.max_factor))
            if math.isfinite(p.max_height):
                boxes = boxes[(boxes[:, 3] - boxes[:, 1]) * norm < p.max_height]
            if len(boxes):  # CenterFace gives a box per cell: one per face and pass first
                boxes = boxes[_nms_indices(boxes, self.params.fuse_iou)]
            per_pass.append(boxes)
        fused = fuse(per_pass, self.params, norm)
        fused[:, [0, 2]] = fused[:, [0, 2]].clip(0, w)
        fused[:, [1, 3]] = fused[:, [1, 3]].clip(0, h)
        return [Face(*map(float, b[:5]), evidence=float(b[5]))
                for b in fused if b[2] > b[0] and b[3] > b[1]]


def fuse(per_pass: list[np.ndarray], params: DetectorParams, norm: float) -> np.ndarray:
    """Merge the boxes of all passes into regions (n, 6: x1, y1, x2, y2, best score,
    evidence), by the configuration's rule (see the module's docstring)."""
    if not per_pass or sum(len(b) for b in per_pass) == 0:
        return np.empty((0, 6), np.float32)
    boxes = np.concatenate(per_pass).astype(np.float64)
    which = np.concatenate([np.full(len(b), i) for i, b in enumerate(per_pass)])
    leaders = _nms_indices(boxes, params.fuse_iou)
    overlap = box_iou(boxes[:, :4], boxes[leaders, :4])
    member = overlap.argmax(axis=1)
    joined = overlap.max(axis=1) >= params.fuse_iou
    # Each pass counts once per region: its best box there.
    best = np.zeros((len(leaders), len(per_pass)))
    np.maximum.at(best, (member[joined], which[joined]), boxes[joined, 4])
    evidence = best.sum(axis=1)
    agreeing = (best > 0).sum(axis=1)
    # The region's score: its best box among the passes whose scores count.
    counts = np.array([p.scores for p in params.passes])
    top = np.where(counts, best, 0.0).max(axis=1)
    height = (boxes[leaders, 3] - boxes[leaders, 1]) * norm
    need = np.where(agreeing >= params.agree, params.evidence_agreeing, params.evidence_alone)
    need = np.where(height >= params.large_height, params.evidence_large, need)
    alone = np.array([p.alone for p in params.passes])
    keep = (evidence >= need) | (top >= params.confident) | (best >= alone).any(axis=1)
    if params.weighted:
        weight = np.zeros(len(leaders))
        total = np.zeros((len(leaders), 4))
        np.add.at(weight, member[joined], boxes[joined, 4])
        np.add.at(total, member[joined], boxes[joined, :4] * boxes[joined, 4:5])
        regions = total / np.maximum(weight, 1e-9)[:, None]
    else:
        regions = boxes[leaders, :4]
    out = np.concatenate([regions, top[:, None], evidence[:, None]], axis=1)[keep]
    return out.astype(np.float32)


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
    params = params or CONFIGURATIONS[DEFAULT_CONFIGURATION]
    return min(reference_scale(width, height) * max(p.scale for p in params.passes),
               params.max_factor)


def _tile_starts(total: int, size: int, overlap: int) -> list[int]:
    """Start offsets of tiles of ``size`` covering ``total`` with at least ``overlap``."""
    if total <= size:
        return [0]
    step = size - overlap
    n = int(np.ceil((total - size) / step)) + 1
    # Spread the tiles evenly, each start a multiple of CenterFace's stride.
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
    """Turn CenterFace's output maps into boxes, one per peak cell above ``threshold``
    (neighbouring cells of one face overlap and are merged by :func:`fuse`)."""
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
    return np.stack([x1, y1, x2, y2, heat[ys, xs]], axis=1).astype(np.float32)


def _nms_indices(boxes: np.ndarray, iou: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression (highest score first)."""
    rects = np.stack([boxes[:, 0], boxes[:, 1], boxes[:, 2] - boxes[:, 0],
                      boxes[:, 3] - boxes[:, 1]], axis=1).tolist()
    keep = cv2.dnn.NMSBoxes(rects, boxes[:, 4].tolist(), 0.0, iou)
    return np.sort(np.asarray(keep, dtype=int).reshape(-1))


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` with every box in ``b`` (x1, y1, x2, y2)."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-9)


_local = threading.local()


def get_detector(configuration: str = DEFAULT_CONFIGURATION) -> FaceDetector:
    """The process's detector of this configuration, loaded on first use."""
    detectors = getattr(_local, "detectors", None)
    if detectors is None:
        detectors = _local.detectors = {}
    if configuration not in detectors:
        detectors[configuration] = FaceDetector(CONFIGURATIONS[configuration])
    return detectors[configuration]
