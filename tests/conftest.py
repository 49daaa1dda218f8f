"""Shared fixtures: real images made here, exiftool as the independent metadata reader."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

from archive.imaging.faces import FaceDetector
from archive.imaging.settings import ImagingSettings

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

#: The astronaut's face in skimage.data.astronaut() (512x512), x1, y1, x2, y2, drawn as
#: face datasets (WIDER FACE, on which CenterFace was trained) draw faces: from the
#: hairline to the chin, cheek to cheek. A "face 10 px tall" means this box, 10 px tall.
ASTRONAUT_FACE = (176, 62, 270, 180)

#: What exiftool may report in a clean file: the file system, and tags that describe
#: only the image's structure. Anything else (including File:Comment, JFIF thumbnails
#: or Composite:GPSPosition) is metadata.
ALLOWED_GROUPS = {"ExifTool", "System"}
ALLOWED_TAGS = {
    "File:FileType", "File:FileTypeExtension", "File:MIMEType", "File:ImageWidth",
    "File:ImageHeight", "File:EncodingProcess", "File:BitsPerSample", "File:ColorComponents",
    "File:YCbCrSubSampling", "JFIF:JFIFVersion", "JFIF:ResolutionUnit", "JFIF:XResolution",
    "JFIF:YResolution", "Composite:ImageSize", "Composite:Megapixels",
}


@pytest.fixture(scope="session")
def astronaut() -> Image.Image:
    from skimage import data

    return Image.fromarray(data.astronaut())


@pytest.fixture(scope="session")
def detector() -> FaceDetector:
    return FaceDetector()


@pytest.fixture(scope="session", autouse=True)
def _detections_remembered():
    """In this test process, the detector answers the same pixels with the same faces
    without running its passes again (keyed by configuration and a hash of the pixels).

    The detector is deterministic, and the tests upload the same few pictures hundreds
    of times (the astronaut, made unique by trailing bytes): each distinct picture is
    still detected for real, once per process, by the default configuration. Worker and
    server processes that tests start (the integration tests, the scrub CLI) remember
    nothing: they detect every time, as in production.
    """
    real = FaceDetector.detect
    seen: dict[tuple, list] = {}

    def detect(self: FaceDetector, rgb: np.ndarray) -> list:
        key = (self.params, rgb.shape, hashlib.blake2b(np.ascontiguousarray(rgb).data,
                                                        digest_size=16).digest())
        if key not in seen:
            seen[key] = real(self, rgb)
        return list(seen[key])

    FaceDetector.detect = detect
    yield
    FaceDetector.detect = real


@pytest.fixture
def settings() -> ImagingSettings:
    return ImagingSettings()


def exiftool_path() -> str:
    path = shutil.which("exiftool")
    if path is None:
        pytest.fail("exiftool is required for these tests (`make test` installs it)")
    return path


def exiftool(*args: str | Path, binary: bool = False) -> str | bytes:
    """Run exiftool and return its stdout (it is the independent reader, so no fallback)."""
    out = subprocess.run(
        [exiftool_path(), *map(str, args)], capture_output=True, text=not binary, timeout=60
    )
    if out.returncode not in (0, 1):
        raise AssertionError(f"exiftool failed: {out.stderr}")
    return out.stdout


def exiftool_write(path: Path, *tags: str) -> None:
    """Write tags with exiftool in place; fail loudly if it wrote nothing."""
    out = subprocess.run(
        [exiftool_path(), "-overwrite_original", "-q", "-q", *tags, str(path)],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, f"exiftool could not write {tags} to {path.name}: {out.stderr}"


def metadata_tags(path: Path) -> dict[str, object]:
    """Every tag exiftool finds beyond the file system and the image structure."""
    [info] = json.loads(exiftool("-j", "-a", "-G1", "-u", path))
    return {
        key: value
        for key, value in info.items()
        if key != "SourceFile"
        and key not in ALLOWED_TAGS
        and key.split(":", 1)[0] not in ALLOWED_GROUPS
    }


def face_composite(
    astronaut: Image.Image, canvas: tuple[int, int], placements: list[tuple[int, int, int]],
    seed: int = 0,
) -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    """Paste the astronaut's face at (x, y, height) on a textured canvas.

    Returns the image and the pasted face boxes (x1, y1, x2, y2).
    """
    rng = np.random.default_rng(seed)
    w, h = canvas
    # A plausible background: smooth colour gradients plus grain (not flat, not faces).
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([
        120 + 60 * np.sin(xx / 97.0),
        110 + 50 * np.cos(yy / 83.0),
        100 + 40 * np.sin((xx + yy) / 61.0),
    ], axis=-1)
    base = base + rng.normal(0, 6, base.shape)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    x1, y1, x2, y2 = ASTRONAUT_FACE
    # Include the hair and neck around the face, as a photo would.
    pad_x, pad_y = 30, 45
    crop = astronaut.crop((x1 - pad_x, y1 - pad_y, x2 + pad_x, y2 + pad_y))
    boxes = []
    for x, y, fh in placements:
        scale = fh / (y2 - y1)
        piece = crop.resize(
            (max(1, round(crop.width * scale)), max(1, round(crop.height * scale))),
            Image.Resampling.LANCZOS,
        )
        img.paste(piece, (x, y))
        fx1, fy1 = x + pad_x * scale, y + pad_y * scale
        boxes.append((round(fx1), round(fy1), round(fx1 + (x2 - x1) * scale),
                      round(fy1 + fh)))
    return img, boxes


# --- The web archive ------------------------------------------------------------------

#: PostgreSQL for the tests (trust auth on the project machine); override with
#: ARCHIVE_TEST_PG_URL, or set it to "off" to skip PostgreSQL.
PG_URL = os.environ.get("ARCHIVE_TEST_PG_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:5432/test")
#: Each test session gets its own PostgreSQL schema, so that runs side by side (a
#: developer's and CI's) never drop each other's tables.
PG_SCHEMA = f"t_{os.getpid()}"
_DB_RAN: dict[str, int] = {}
_SETUPS_RAN: dict[str, int] = {}


def record_setup(name: str) -> None:
    """Count the integration tests run on each setup, for the summary."""
    _SETUPS_RAN[name] = _SETUPS_RAN.get(name, 0) + 1


_KILL_POINTS: dict[str, int] = {}


def record_kill_points(setup: str, count: int) -> None:
    """How many points the crash test killed a real worker at, per setup (summary)."""
    _KILL_POINTS[setup] = count


def pg_available() -> bool:
    if PG_URL == "off":
        return False
    if not hasattr(pg_available, "answer"):
        import sqlalchemy as sa

        try:
            engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(sa.text("select 1"))
            engine.dispose()
            pg_available.answer = True
        except Exception:  # noqa: BLE001 - any failure means "not reachable"
            pg_available.answer = False
    return pg_available.answer


def pg_url_for_schema(schema: str = PG_SCHEMA) -> str:
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3D{schema}"


def reset_pg_schema(schema: str = PG_SCHEMA) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    engine.dispose()


def drop_pg_schema(schema: str = PG_SCHEMA) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """A fresh, empty database: a real SQLite file, and real PostgreSQL when it answers."""
    if request.param == "postgresql":
        if not pg_available():
            pytest.skip(f"PostgreSQL does not answer at {PG_URL}")
        reset_pg_schema()
        url = pg_url_for_schema()
    else:
        url = f"sqlite:///{tmp_path / 'archive.db'}"
    _DB_RAN[request.param] = _DB_RAN.get(request.param, 0) + 1
    yield url
    if request.param == "postgresql":
        drop_pg_schema()


def make_app(tmp_path: Path, database_url: str, **extra):
    from archive import create_app
    from config import TestingConfig, config_from

    settings = config_from(TestingConfig)
    settings.update(
        INSTANCE_PATH=str(tmp_path / "instance"),
        UPLOADS=str(tmp_path / "uploads"),
        DATABASE_URL=database_url,
        **extra,
    )
    return create_app(settings)


@pytest.fixture
def app(tmp_path, database_url):
    """The archive on a fresh database (tables made from the models; the migrations
    are tested against the models separately), with tasks run at once."""
    from archive.extensions import db

    app = make_app(tmp_path, database_url)
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


#: The longest tests (``pytest --durations``), started first so that, run side by side
#: (pytest-xdist, ``make test``), none of them is left running alone at the end.
LONGEST_FIRST = (
    "tests/test_crash_points.py",
    "tests/test_exif_samples.py",
    "tests/test_scaled_setup.py",
    "tests/test_access.py::test_every_route_as_every_role",
    "tests/test_hardening_small.py::test_finding_12",
    "tests/test_browser_",
    "tests/test_no_traces.py::test_claims_and_takedowns_leave_no_trace",
    "tests/test_shared_limits.py",
    "tests/test_files_and_caches.py",
)


def pytest_collection_modifyitems(config, items) -> None:
    def rank(item) -> int:
        return next((i for i, prefix in enumerate(LONGEST_FIRST)
                     if item.nodeid.startswith(prefix)), len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: the rest keep their order


def pytest_sessionfinish(session) -> None:
    """On a pytest-xdist worker: hand this worker's counts to the controller."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["archive_counts"] = json.dumps({
            "db": _DB_RAN, "setups": _SETUPS_RAN, "kill_points": _KILL_POINTS,
            "pg": pg_available.__dict__.get("answer")})


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:
    """On the pytest-xdist controller: add up what each worker ran, for the summary."""
    counts = json.loads(getattr(node, "workeroutput", {}).get("archive_counts", "{}") or "{}")
    for mine, theirs in ((_DB_RAN, counts.get("db", {})),
                         (_SETUPS_RAN, counts.get("setups", {}))):
        for name, n in theirs.items():
            mine[name] = mine.get(name, 0) + n
    for name, n in counts.get("kill_points", {}).items():
        _KILL_POINTS[name] = max(_KILL_POINTS.get(name, 0), n)
    if counts.get("pg") is not None and pg_available.__dict__.get("answer") is not True:
        pg_available.answer = counts["pg"]


def pytest_terminal_summary(terminalreporter) -> None:
    if _DB_RAN or pg_available.__dict__.get("answer") is not None:
        ran = ", ".join(f"{name}: {n} test runs" for name, n in sorted(_DB_RAN.items()))
        terminalreporter.write_line(f"databases used: {ran or 'none'}")
        words = {"embedded": "SQLite + SQLite queue", "scaled": "PostgreSQL + Redis queue"}
        if _SETUPS_RAN:
            terminalreporter.write_line("integration setups (real worker processes): " + ", ".join(
                f"{words.get(k, k)}: {n} tests" for k, n in sorted(_SETUPS_RAN.items())))
        if _KILL_POINTS:
            terminalreporter.write_line("crash test (tests/test_crash_points.py): a real worker "
                                        "killed at " + ", ".join(
                f"{n} points on {words.get(k, k)}" for k, n in sorted(_KILL_POINTS.items())))
        if pg_available.__dict__.get("answer") is False:
            terminalreporter.write_line(
                "PostgreSQL did not run: it does not answer at " + PG_URL)


# --- Real worker processes on both setups (the integration tests) --------------------


def stop_group(proc: subprocess.Popen, timeout: float = 60) -> None:
    """Stop a process started in a session of its own, and everything it started:
    SIGTERM to its group, then SIGKILL if it has not ended after ``timeout`` s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("ARCHIVE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping())
    except redis.RedisError:
        return False


@dataclass
class Setup:
    name: str
    tmp: Path
    db_url: str
    queue_url: str
    queue_name: str

    @property
    def uploads(self) -> Path:
        return self.tmp / "uploads"

    def env(self, **extra: str) -> dict[str, str]:
        return dict(os.environ, ARCHIVE_DATABASE_URL=self.db_url,
                    ARCHIVE_QUEUE_URL=self.queue_url, ARCHIVE_QUEUE_NAME=self.queue_name,
                    ARCHIVE_INSTANCE=str(self.tmp / "instance"),
                    ARCHIVE_UPLOADS=str(self.uploads), ARCHIVE_ENV="production",
                    ARCHIVE_SECRET_KEY="integration-test-key", **extra)

    def app(self):
        return make_app(self.tmp, self.db_url, QUEUE_IMMEDIATE=False, QUEUE_URL=self.queue_url,
                        QUEUE_NAME=self.queue_name, SECRET_KEY="integration-test-key")

    def query(self, sql: str) -> list[tuple]:
        engine = sa.create_engine(self.db_url)
        try:
            with engine.connect() as conn:
                return [tuple(r) for r in conn.execute(sa.text(sql))]
        finally:
            engine.dispose()


@pytest.fixture(params=["embedded", "scaled"])
def live(request, tmp_path) -> Setup:
    name = request.param
    queue_name = f"test-{os.getpid()}-{secrets.token_hex(4)}"
    if name == "scaled":
        if not pg_available():
            pytest.skip("PostgreSQL does not answer")
        if not redis_available():
            pytest.skip(f"Redis does not answer at {REDIS_URL}")
        schema = f"t_{os.getpid()}_live"
        reset_pg_schema(schema)
        setup = Setup(name, tmp_path, pg_url_for_schema(schema), REDIS_URL, queue_name)
    else:
        setup = Setup(name, tmp_path, f"sqlite:///{tmp_path / 'archive.db'}",
                      f"sqlite:///{tmp_path / 'queue.db'}", queue_name)
    record_setup(name)
    init = subprocess.run([BIN / "protest-archive", "init-db"], env=setup.env(),
                          capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    yield setup
    if name == "scaled":
        from huey import RedisHuey

        RedisHuey(queue_name, url=REDIS_URL).storage.flush_all()
        drop_pg_schema(f"t_{os.getpid()}_live")
