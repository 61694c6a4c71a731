"""The demo's contributor pages (tasks, items, passports, earnings) read in words in Hindi
and isiZulu: no code (``item:review``, ``org:1``) and no snake_case word
(``model_training``) reaches the visible text; its money figures are the ledger's and the
pay-floor check's, formatted for the reader."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest

from datatrust.adapters.db import migrate
from datatrust.adapters.payments import payment_rail_for
from datatrust.bootstrap import Services, build
from datatrust.domain.accounts import User
from datatrust.domain.items import Item
from datatrust.domain.permissions import ROLE_PERMISSIONS, Role
from datatrust.services import accounts, campaigns
from datatrust.services.demo import CONTRIBUTORS, seed_demo
from support import TEST_QUEUE, make_settings, redis_reachable, require_service

# A code as the services write them: ``subject:action`` or ``snake_case``. Times
# ("18:33") and amounts start with digits, so they do not match; "org:1" does.
CODE = re.compile(r"\b[a-z]+(?:_[a-z]+)*:[a-z0-9_]+\b|\b[a-z]+_[a-z_]+\b", re.IGNORECASE)


class VisibleText(HTMLParser):
    """The text a reader sees: no tags, attributes, scripts or styles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def visible(html: str) -> str:
    parser = VisibleText()
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


@pytest.fixture(scope="module")
def demo(databases, tmp_path_factory) -> Iterator[Services]:
    """The demo seeded once over its own committed database, as ``serve --demo`` does."""
    if TEST_QUEUE == "redis":
        require_service("Redis", redis_reachable())
    settings = make_settings(
        tmp_path_factory.mktemp("demo"),
        database_url=databases.create(),
        queue_backend=TEST_QUEUE if TEST_QUEUE == "redis" else "sqlite",
        queue_name=f"dt-demo-pages-{uuid.uuid4().hex[:8]}",
    )
    svc = build(settings, upgrade_embedded=False)
    migrate.upgrade(svc.engine)
    seed_demo(svc, payment_rail_for(svc))
    yield svc
    svc.queue.huey.storage.flush_all()
    svc.close()


@pytest.fixture(scope="module")
def client(demo) -> Iterator:
    from fastapi.testclient import TestClient

    from datatrust.web.app import create_app

    with TestClient(create_app(demo, start_worker=False)) as test_client:
        yield test_client


def contributor_pages(svc: Services, email: str) -> tuple[dict[str, str], list[str]]:
    """A token for the demo contributor, and every page of theirs to read."""
    with svc.uow() as uow:
        user = uow.one(User, email=email)
        actor = accounts.actor_for(uow, user)
        scopes = sorted(p.value for p in ROLE_PERMISSIONS[Role.CONTRIBUTOR])
        token = accounts.create_api_token(uow, actor, name="pages", scopes=scopes).secret
        tasks = [c.id for c in campaigns.list_campaigns(uow, actor) if c.state.value == "open"]
        owned = [i.id for i in uow.all(Item, order_by="id", owner_id=user.id)]
    pages = ["/tasks", "/my/items", "/my/earnings", "/my/licences"]
    pages += [f"/tasks/{c}" for c in tasks]
    pages += [p for i in owned for p in (f"/my/items/{i}", f"/my/items/{i}/passport")]
    return {"Authorization": f"Bearer {token}"}, pages


@pytest.mark.parametrize("lang", ["hi", "zu"])
@pytest.mark.parametrize("email", CONTRIBUTORS)
def test_the_demo_contributor_pages_show_no_codes(demo, client, email, lang):
    headers, pages = contributor_pages(demo, email)
    found = {}
    for path in pages:
        page = client.get(f"{path}?lang={lang}", headers=headers)
        assert page.status_code == 200, (path, page.status_code)
        codes = sorted(set(CODE.findall(visible(page.text))))
        if codes:
            found[path] = codes
    assert found == {}


def test_a_sold_items_passport_reads_in_words_in_hindi(demo, client):
    headers, pages = contributor_pages(demo, CONTRIBUTORS[0])
    passport = next(p for p in pages if p.endswith("/passport"))
    text = visible(client.get(f"{passport}?lang=hi", headers=headers).text)
    # The buyer's declared use: its action, purpose and territory in Hindi, dates by CLDR.
    assert "एआई मॉडल को प्रशिक्षित करना" in text and "यूनाइटेड किंगडम" in text
    assert "दिसंबर" in text
    assert "Ada Lab Ltd" in text  # a buyer by its organisation's name, never org:1
    assert "कोई दूसरा योगदानकर्ता" in text  # the peer reviewers, never "user"
    assert "$1.50" in text  # the pay for the work, from the ledger entry's audit event
