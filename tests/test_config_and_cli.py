"""Configuration (secret key, environment, imaging settings) and the command line without
a database. (Bad ``ARCHIVE_*`` values for ``scrub`` are covered in test_scrub_cli.py.)"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from archive.imaging.settings import ImagingSettings

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("protest-archive"))
IMPOSSIBLE_DB = "postgresql+psycopg://nobody@127.0.0.1:1/none"


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any ARCHIVE_* setting, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVE_")}
    env.update(extra)
    return env


def settings_in(tmp_path: Path, **extra) -> dict:
    return {"INSTANCE_PATH": str(tmp_path / "instance"), "UPLOADS": str(tmp_path / "uploads"),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'archive.db'}",
            "QUEUE_URL": f"sqlite:///{tmp_path / 'queue.db'}", "RATELIMIT_ENABLED": False,
            **extra}


# --- the secret key ---------------------------------------------------------------------

def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    from archive import create_app

    with pytest.raises(RuntimeError, match="ARCHIVE_SECRET_KEY"):
        create_app(settings_in(tmp_path, ENV_NAME="production", SECRET_KEY=None))
    with pytest.raises(RuntimeError, match="ARCHIVE_SECRET_KEY"):
        create_app(settings_in(tmp_path, ENV_NAME="production", SECRET_KEY=""))
    # It never falls back to a generated key.
    assert not (tmp_path / "instance" / "secret_key").exists()

    app = create_app(settings_in(tmp_path, ENV_NAME="production", SECRET_KEY="k" * 64))
    assert app.config["SECRET_KEY"] == "k" * 64
    assert not (tmp_path / "instance" / "secret_key").exists()


def test_development_generates_a_private_key_once_and_keeps_it(tmp_path):
    from archive import create_app

    first = create_app(settings_in(tmp_path, ENV_NAME="development", SECRET_KEY=None))
    key_file = tmp_path / "instance" / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = first.config["SECRET_KEY"]
    assert key == key_file.read_text().strip() and len(key) >= 64

    second = create_app(settings_in(tmp_path, ENV_NAME="development", SECRET_KEY=None))
    assert second.config["SECRET_KEY"] == key
    # Another instance folder is another archive, with its own key.
    other = create_app(settings_in(tmp_path / "other", ENV_NAME="development",
                                   SECRET_KEY=None))
    assert other.config["SECRET_KEY"] != key

    # A session signed by the first process is valid in the second (a restart, or a
    # second web worker): nobody is logged out by it.
    serializer = first.session_interface.get_signing_serializer(first)
    cookie = serializer.dumps({"_user_id": "1"})
    assert second.session_interface.get_signing_serializer(second).loads(cookie) == \
        {"_user_id": "1"}


# --- imaging settings -------------------------------------------------------------------

def test_imaging_settings_from_a_mapping():
    from config import imaging_settings

    settings = imaging_settings({"MAX_UPLOAD_MB": 5, "MAX_MEGAPIXELS": 2,
                                 "OBSCURE_METHOD": "solid", "MASK_SCALE": 2.0})
    assert settings == ImagingSettings(max_bytes=5 * 1024 * 1024, max_pixels=2_000_000,
                                       obscure_method="solid", mask_scale=2.0)
    with pytest.raises(ValueError, match="obscure method must be one of heavy_blur, solid"):
        imaging_settings({"MAX_UPLOAD_MB": 5, "MAX_MEGAPIXELS": 2,
                          "OBSCURE_METHOD": "pixelate", "MASK_SCALE": 2.0})


def test_imaging_settings_from_a_flask_config(tmp_path):
    from archive import create_app
    from config import imaging_settings

    app = create_app(settings_in(tmp_path, ENV_NAME="testing", SECRET_KEY="k" * 64,
                                 MAX_UPLOAD_MB=3, OBSCURE_METHOD="solid"))
    settings = imaging_settings(app.config)
    assert settings.max_bytes == 3 * 1024 * 1024 and settings.obscure_method == "solid"
    # The request limit follows the same setting (plus room for the form around the file).
    assert app.config["MAX_CONTENT_LENGTH"] == 4 * 1024 * 1024


@pytest.mark.parametrize(("name", "value", "words"), [
    ("OBSCURE_METHOD", "pixelate", "obscure method must be one of heavy_blur, solid"),
    ("MASK_SCALE", 0.5, "mask scale must be between 1.0 and 3.0"),
])
def test_the_web_archive_refuses_bad_imaging_settings_at_start(tmp_path, name, value, words):
    """Not later, when every uploaded photo would fail to process."""
    from archive import create_app

    with pytest.raises(RuntimeError, match=words):
        create_app(settings_in(tmp_path, SECRET_KEY="k" * 64, **{name: value}))
    assert not (tmp_path / "instance").exists()


def test_the_environment_is_read_when_config_is_imported(tmp_path):
    env = clean_env(
        ARCHIVE_ENV="production", ARCHIVE_SECRET_KEY="from-the-environment",
        ARCHIVE_INSTANCE=str(tmp_path / "inst"), ARCHIVE_MAX_UPLOAD_MB="5",
        ARCHIVE_MAX_MEGAPIXELS="7", ARCHIVE_OBSCURE_METHOD="solid", ARCHIVE_MASK_SCALE="2.5",
        ARCHIVE_LOGIN_RATE_LIMIT="2 per minute", ARCHIVE_INVITATION_DAYS="3",
        ARCHIVE_BEHIND_PROXY="1")
    code = (
        "import json\n"
        "from config import config_from, imaging_settings\n"
        "c = config_from(None)\n"
        "s = imaging_settings()\n"
        "keys = ['ENV_NAME', 'SECRET_KEY', 'INSTANCE_PATH', 'LOGIN_RATE_LIMIT',"
        " 'INVITATION_DAYS', 'BEHIND_PROXY', 'DATABASE_URL']\n"
        "print(json.dumps({**{k: c[k] for k in keys}, 'settings': [s.max_bytes,"
        " s.max_pixels, s.obscure_method, s.mask_scale]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen == {
        "ENV_NAME": "production", "SECRET_KEY": "from-the-environment",
        "INSTANCE_PATH": str(tmp_path / "inst"), "LOGIN_RATE_LIMIT": "2 per minute",
        "INVITATION_DAYS": 3, "BEHIND_PROXY": True, "DATABASE_URL": None,
        "settings": [5 * 1024 * 1024, 7_000_000, "solid", 2.5],
    }


@pytest.mark.parametrize("env", ["testing", "prod", "Production "])
def test_review_an_unknown_or_testing_environment_stops_the_start(tmp_path, env):
    """Found in the attacker review: ``ARCHIVE_ENV=testing`` quietly used the tests'
    public secret key (anyone could sign an admin's session), turned the rate limits
    off and ran tasks in the web process; ``prod`` quietly meant development."""
    out = subprocess.run([CLI, "init-db"], capture_output=True, text=True, timeout=120,
                         env=clean_env(ARCHIVE_ENV=env, ARCHIVE_SECRET_KEY="k" * 64,
                                       ARCHIVE_INSTANCE=str(tmp_path / "inst")))
    if env.strip().lower() == "production":
        assert out.returncode == 0, out.stderr
        return
    assert out.returncode != 0
    assert "ARCHIVE_ENV must be one of development, production" in out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "inst").exists()


# --- scrub without the web archive -------------------------------------------------------

def test_scrub_never_builds_the_app_or_touches_a_database(tmp_path):
    rng = np.random.default_rng(7)
    src = tmp_path / "small.jpg"
    Image.fromarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)).save(
        src, quality=85, comment=b"meeting point")
    never = tmp_path / "never"
    env = clean_env(
        ARCHIVE_DATABASE_URL=IMPOSSIBLE_DB, ARCHIVE_QUEUE_URL="redis://127.0.0.1:1/0",
        ARCHIVE_INSTANCE=str(never / "instance"), ARCHIVE_UPLOADS=str(never / "uploads"),
        # Building the app would also fail here: production with no secret key.
        ARCHIVE_ENV="production")
    out_dir, report = tmp_path / "out", tmp_path / "report.json"
    result = subprocess.run([CLI, "scrub", str(src), "--out", str(out_dir), "--report",
                             str(report), "--jobs", "1"],
                            capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "1 of 1 photos scrubbed" in result.stderr
    entry = json.loads(report.read_text())[str(src)]
    assert entry["error"] is None and entry["metadata_removed"]["comments"] is True
    output = Path(entry["output"])
    assert output == out_dir / "small.jpg" and output.is_file()
    with Image.open(output) as im:
        assert im.size == (64, 48) and "comment" not in im.info
    assert not never.exists(), "scrub built the web app (it made the instance folder)"
