"""Issue 18 §9: a favicon served from this instance, and pages and assets compressed
while downloads and uploads keep their exact bytes, lengths and ranges."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET


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
