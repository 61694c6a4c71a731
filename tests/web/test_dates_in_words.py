"""Dates and times on pages are written by CLDR for the reader's language, never as a
machine writes them (ISO 8601): an item's day of receipt, an incident's deadline to tell
those affected (issue 18 §2, the rule of tests/page_text.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from babel.dates import format_date
from test_pages_operator import platform_campaign, upload

from page_text import ISO_TIME, visible


def test_an_items_day_and_an_incidents_deadline_read_in_hindi(client, people):
    operator = people["operator"].headers
    item_id = upload(client, people["owner"], platform_campaign(client, people["operator"])["id"])
    item = visible(client.get(f"/my/items/{item_id}?lang=hi", headers=people["owner"].headers).text)
    today = format_date(datetime.now(UTC), format="long", locale="hi")
    assert today in item
    assert ISO_TIME.findall(item) == []
    found = datetime.now(UTC)
    now = found.strftime("%Y-%m-%dT%H:%M")
    opened = client.post(
        "/operator/incidents",
        headers=operator,
        data={"title": "Backup disk lost", "discovered_at": now, "item_ids": str(item_id)},
        follow_redirects=False,
    )
    assert opened.status_code == 303, opened.text
    page = visible(client.get("/operator/incidents?lang=hi", headers=operator).text)
    assert "Backup disk lost" in page
    deadline = format_date(found + timedelta(hours=72), format="long", locale="hi")
    assert f"{deadline}," in page  # "Tell those affected by <day>, <time>"
    assert ISO_TIME.findall(page) == []
    (incident,) = client.get("/api/incidents", headers=operator).json()
    told = client.post(
        f"/operator/incidents/{incident['id']}",
        headers=operator,
        data={"step": "notify"},
        follow_redirects=False,
    )
    assert told.status_code == 303, told.text
    page = visible(client.get("/operator/incidents?lang=hi", headers=operator).text)
    assert today in page  # "Notified on <today>"
    assert ISO_TIME.findall(page) == []
