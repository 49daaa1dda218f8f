"""Small things a newcomer met (issue 14): every page has an icon, nothing 404s for it."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("path", ["/", "/login"])
def test_every_page_names_an_icon_that_is_served(client, path):
    page = client.get(path)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'rel="icon"' in html
    href = html.split('rel="icon"', 1)[1].split('href="', 1)[1].split('"', 1)[0]
    icon = client.get(href)
    assert icon.status_code == 200
    assert icon.mimetype == "image/svg+xml"
    assert icon.get_data(as_text=True).lstrip().startswith("<svg")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_browser_asking_for_favicon_ico_finds_the_icon(client):
    answer = client.get("/favicon.ico", follow_redirects=True)
    assert answer.status_code == 200
    assert answer.mimetype == "image/svg+xml"
