"""The real worker: `protest-archive worker` consuming a real SQLite queue in another
process, fed by uploads through the web app (the embedded default of `make run`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa
from PIL import Image

from tests.conftest import make_app
from tests.test_web_flow import astronaut_with_gps
from tests.web_client import login, make_event, make_user, upload

BIN = Path(sys.executable).parent


def test_worker_process_processes_uploads(tmp_path, astronaut):
    db_url = f"sqlite:///{tmp_path / 'archive.db'}"
    queue_url = f"sqlite:///{tmp_path / 'queue.db'}"
    env = dict(os.environ, ARCHIVE_DATABASE_URL=db_url, ARCHIVE_QUEUE_URL=queue_url,
               ARCHIVE_INSTANCE=str(tmp_path / "instance"),
               ARCHIVE_UPLOADS=str(tmp_path / "uploads"), ARCHIVE_ENV="development")
    init = subprocess.run([BIN / "protest-archive", "init-db"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert init.returncode == 0, init.stderr

    app = make_app(tmp_path, db_url, QUEUE_IMMEDIATE=False, QUEUE_URL=queue_url)
    with app.app_context():
        photographer = make_user("ana@example.org")
        make_event("May Day", members=[photographer])
    client = app.test_client()
    login(client, "ana@example.org")
    refs = []
    for image in (astronaut, astronaut.transpose(Image.Transpose.FLIP_LEFT_RIGHT)):
        response = upload(client, "may-day", astronaut_with_gps(image, tmp_path))
        assert response.status_code == 202
        assert response.get_json()["state"] == "queued"  # nobody has processed it yet
        refs.append(response.get_json()["id"])

    worker = subprocess.Popen([BIN / "protest-archive", "worker"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        states: list[str] = []
        while time.monotonic() < deadline:
            states = [client.get(f"/studio/photos/{r}/status.json").get_json()["state"]
                      for r in refs]
            if all(s in ("done", "failed") for s in states):
                break
            assert worker.poll() is None, worker.stdout.read()
            time.sleep(0.5)
        assert states == ["done", "done"]
    finally:
        worker.send_signal(signal.SIGINT)
        try:
            output, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
    assert worker.returncode is not None
    assert "Traceback" not in output, output

    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "select upload_key, master_key, derivative_key from photos")).all()
    engine.dispose()
    assert all(up is None and master and deriv for up, master, deriv in rows)
    stored = sorted(p.relative_to(tmp_path / "uploads").as_posix()
                    for p in (tmp_path / "uploads").rglob("*") if p.is_file())
    assert len([s for s in stored if s.startswith("private/")]) == 2  # the masters only
    assert len([s for s in stored if s.startswith("public/")]) == 4  # derivative + thumb
