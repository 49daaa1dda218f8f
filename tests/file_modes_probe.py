"""Run under a given umask (argv[1], octal) in its own process: an archive in argv[2]
on its default embedded setup (SQLite files in instance/), a photo uploaded and
processed by the real pipeline, the SQLite queue used; prints every path's mode."""

from __future__ import annotations

import io
import json
import os
import stat
import sys
from pathlib import Path

os.umask(int(sys.argv[1], 8))

from PIL import Image  # noqa: E402
from skimage import data  # noqa: E402

from tests.conftest import make_app  # noqa: E402
from tests.web_client import login, make_event, make_user, upload  # noqa: E402

root = Path(sys.argv[2])
app = make_app(root, "", SECRET_KEY=None)
from archive import queue  # noqa: E402
from archive.extensions import db  # noqa: E402

with app.app_context():
    db.create_all()
    make_event("May Day", members=[make_user("ana@example.org")])
client = app.test_client()
login(client, "ana@example.org")
photo = io.BytesIO()
Image.fromarray(data.astronaut()).save(photo, "JPEG", quality=90)
answer = upload(client, "may-day", photo.getvalue())
assert answer.status_code == 202 and answer.get_json()["state"] == "done", answer.get_json()
storage_class, kwargs = queue.storage_for(f"sqlite:///{root / 'instance' / 'queue.db'}")
storage = storage_class(name="probe", **kwargs)
storage.enqueue(b"probe")
with app.app_context():  # the database's connection is open: its -wal and -shm exist
    db.session.execute(db.text("select 1"))
    modes = {str(p.relative_to(root)): stat.S_IMODE(p.lstat().st_mode)
             for p in sorted(root.rglob("*"))}
    modes["."] = stat.S_IMODE(root.lstat().st_mode)
print(json.dumps(modes))
