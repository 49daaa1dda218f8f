"""The core flow through real HTTP: upload, process, review, release, public view."""

from __future__ import annotations

import io
import re
from pathlib import Path

from PIL import Image

from tests.conftest import exiftool_write, metadata_tags
from tests.web_client import login, make_event, make_user, post, upload


def astronaut_with_gps(astronaut: Image.Image, tmp_path: Path) -> bytes:
    path = tmp_path / "astronaut.jpg"
    astronaut.save(path, quality=92)
    exiftool_write(path, "-GPSLatitude=43.3178", "-GPSLatitudeRef=N", "-GPSLongitude=45.6949",
                   "-GPSLongitudeRef=E", "-SerialNumber=CAM-SN-99812",
                   "-Artist=Aslan Example", "-Comment=meeting point behind the theatre")
    assert "GPS:GPSLatitude" in metadata_tags(path)
    return path.read_bytes()


def test_upload_review_release(app, client, astronaut, tmp_path):
    with app.app_context():
        photographer = make_user("ana@example.org", credit="Ana K.")
        make_user("mod@example.org", role="moderator")
        make_event("May Day", members=[photographer])

    login(client, "ana@example.org")
    response = upload(client, "may-day", astronaut_with_gps(astronaut, tmp_path),
                      name="IMG_20170422_1412.jpg")
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["state"] == "done" and body["faces"] >= 1
    status = client.get(body["status_url"]).get_json()
    assert status == {"id": body["id"], "state": "done", "error": None, "message": None,
                      "faces": body["faces"]}

    page = client.get(body["page_url"]).get_data(as_text=True)
    assert "Removed: GPS position" in page and "camera or lens serial number" in page
    assert "IMG_20170422" not in page
    # Where it stands, as on the photographer's grid (issue 14).
    assert 'data-standing="in_review"' in page and "Waiting for a moderator." in page

    # Not public before a moderator approves.
    assert client.get(f"/photos/{body['id']}").status_code == 404
    client.post("/logout", data={})  # refused: no CSRF token
    post(client, "/logout")
    login(client, "mod@example.org")
    queue = client.get("/review/").get_data(as_text=True)
    assert body["id"] in queue
    response = post(client, f"/review/photos/{body['id']}/approve")
    assert response.status_code == 302
    post(client, "/logout")

    public = client.get(f"/photos/{body['id']}")
    assert public.status_code == 200
    html = public.get_data(as_text=True)
    assert "Ana K." in html
    media = re.search(r'src="(/media/[0-9a-f]{32}\.jpg)"', html).group(1)
    served = client.get(media)
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    download = client.get(f"/photos/{body['id']}/download", follow_redirects=True)
    assert download.status_code == 200
    assert f"archive-{body['id']}.jpg" in download.headers["Content-Disposition"]
    out = tmp_path / "downloaded.jpg"
    out.write_bytes(download.data)
    assert metadata_tags(out) == {}
    assert b"CAM-SN" not in download.data and b"theatre" not in download.data
    with Image.open(io.BytesIO(download.data)) as im:
        assert im.size == (512, 512)

    login(client, "ana@example.org")
    page = client.get(body["page_url"]).get_data(as_text=True)
    assert 'data-standing="public"' in page and "Anyone can see it." in page
    post(client, "/logout")

    event_page = client.get("/events/may-day").get_data(as_text=True)
    assert body["id"] in event_page
    feed = client.get("/feed.atom")
    assert feed.status_code == 200 and body["id"] in feed.get_data(as_text=True)


def test_the_same_file_twice_is_refused_with_409(app, client, astronaut, tmp_path):
    with app.app_context():
        photographer = make_user("ana@example.org")
        make_event("May Day", members=[photographer])
        make_event("June Day", members=[photographer])
    login(client, "ana@example.org")
    payload = astronaut_with_gps(astronaut, tmp_path)
    assert upload(client, "may-day", payload).status_code == 202
    again = upload(client, "may-day", payload, name="another-name.jpg")
    assert again.status_code == 409
    assert "already in this event" in again.get_json()["error"]
    # The same file may go to another event, and a changed file to the same one.
    assert upload(client, "june-day", payload).status_code == 202
    assert upload(client, "may-day", payload + b"\0").status_code == 202


def test_database_down_is_a_clear_503(tmp_path):
    from tests.conftest import make_app

    app = make_app(tmp_path, "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    client = app.test_client()
    page = client.get("/")
    assert page.status_code == 503 and page.headers["Retry-After"] == "30"
    assert "database is not answering" in page.get_data(as_text=True)
    api = client.get("/studio/photos/abc/status.json")
    assert api.status_code in (302, 503)  # login required first, or the database
