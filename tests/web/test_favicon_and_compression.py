"""Issue 18 §9: a favicon served from this instance, and pages and assets compressed
while downloads and uploads keep their exact bytes, lengths and ranges."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from support import receive_upload


def test_every_page_links_a_favicon_this_instance_serves(client):
    for path in ("/", "/sign-in", "/licences"):
        html = client.get(path).text
        link = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', html)
        assert link, path
        href = link.group(1)
        assert href.startswith("/static/"), "served locally, which img-src 'self' allows"
    icon = client.get(href)
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(icon.content)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert not list(root.iter("{http://www.w3.org/2000/svg}script"))


def test_the_address_browsers_ask_for_by_themselves_leads_to_the_same_icon(client):
    moved = client.get("/favicon.ico", follow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["location"] == "/static/favicon.svg"
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"].startswith("image/svg+xml")


def test_pages_and_assets_are_served_gzip_encoded_when_the_browser_asks(client):
    gzip = {"accept-encoding": "gzip"}
    for path in ("/", "/static/site.css"):
        response = client.get(path, headers=gzip)
        assert response.status_code == 200
        assert response.headers["content-encoding"] == "gzip", path
        assert "accept-encoding" in response.headers["vary"].lower()
    page = client.get("/", headers=gzip)
    assert 'href="/static/site.css"' in page.text  # decoded by the client, intact
    plain = client.get("/", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.text == page.text


def test_an_item_download_keeps_its_exact_bytes_uncompressed(client, services, people):
    """A highly compressible original of 20 KB: gzip would shrink it, but a download keeps
    its stored bytes (a resumed download counts them)."""
    data = b"hello, this compresses very well\n" * 600
    item = receive_upload(services, people["owner"], "chat", data, "chat.txt", "text/plain")
    response = client.get(
        f"/api/items/{item.id}/original",
        headers={**people["owner"].headers, "accept-encoding": "gzip"},
    )
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert response.content == data
    assert response.num_bytes_downloaded == len(data)
