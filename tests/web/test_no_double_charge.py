"""No double charge (issue 17 §4): an order for items the buyer already licenses for the
same use and period quotes and charges only what is new, and its quote names the items
already held and why they cost nothing. The ledger stays balanced throughout.

Through the API (declare, quote, purchase, invoices) and the service (two quotes bought
one after the other), on SQLite and, in CI, on PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from test_seed_story import TRAINING, WALK, buyer, fund, license_training_only, listed_item

from datatrust.domain.errors import Conflict
from datatrust.domain.orders import AgreementRow, covers
from datatrust.services import money
from datatrust.services.market import orders


def _period(days: int = 180, start: datetime | None = None) -> dict:
    start = start or datetime.fromisoformat("2030-01-01T00:00:00+00:00")
    return {"starts_at": start.isoformat(), "ends_at": (start + timedelta(days=days)).isoformat()}


def _now_period(days: int = 180, offset_days: int = 0) -> dict:
    from datatrust.domain.clock import utcnow

    start = utcnow().replace(microsecond=0) + timedelta(days=offset_days)
    return _period(days, start)


@pytest.fixture
def two_items(client, services, people):
    walk = listed_item(services, people["owner"], WALK, "my morning walk")
    park = listed_item(services, people["other"], WALK.replace(b"walk", b"park"), "park")
    license_training_only(client, people["owner"], walk.id, price_minor=1400)
    license_training_only(client, people["other"], park.id, price_minor=900)
    return walk, park


@pytest.fixture
def trainer(services, people):
    persona, _ = buyer(services, people, "trainer", ["model_training"], ["technology"])
    fund(services, persona)
    return persona


def _declare(client, persona, **use):
    got = client.post("/api/buyers/orders", headers=persona.headers, json={**TRAINING, **use})
    assert got.status_code == 201, got.text
    return got.json()


def _buy(client, persona, order_id):
    return client.post(f"/api/buyers/orders/{order_id}/purchase", headers=persona.headers)


def _paid_minor(client, persona) -> int:
    org_id = persona.actor.org_id
    got = client.get(f"/api/orgs/{org_id}/invoices", headers=persona.headers)
    assert got.status_code == 200, got.text
    return sum(i["price"]["amount_minor"] for i in got.json()["invoices"] if i["kind"] == "sale")


def _ledger_ok(services, people) -> None:
    with services.uow() as uow:
        check = money.check_ledger(uow, people["operator"].actor)
    assert check.ok, check.as_dict()["problems"]


def test_ordering_the_same_use_again_charges_only_the_new_item(client, services, people, trainer):
    walk = listed_item(services, people["owner"], WALK, "my morning walk")
    park = listed_item(services, people["other"], WALK.replace(b"walk", b"park"), "park")
    license_training_only(client, people["owner"], walk.id, price_minor=1400)
    period = _now_period()
    first = _declare(client, trainer, **period)
    assert first["selected"] == 1 and first["held"] == 0
    bought = _buy(client, trainer, first["id"])
    assert bought.status_code == 200, bought.text
    # The park item is licensed only after the first purchase: it is the new one.
    license_training_only(client, people["other"], park.id, price_minor=900)
    paid_once = _paid_minor(client, trainer)
    assert paid_once == bought.json()["quote"]["currencies"]["USD"]["total_minor"] > 0

    again = _declare(client, trainer, **period)
    assert again["selected"] == 1 and again["held"] == 1
    usd = again["quote"]["currencies"]["USD"]
    assert usd["items"] == 1 and usd["items_minor"] == 900
    (held,) = again["quote"]["held"]
    assert held["item_id"] == walk.id and held["reason"] == "already_licensed"
    assert held["order_id"] == first["id"] and "not charged again" in held["why"]

    second = _buy(client, trainer, again["id"])
    assert second.status_code == 200, second.text
    assert [a["item_id"] for a in second.json()["agreements"]] == [park.id]
    assert _paid_minor(client, trainer) - paid_once == usd["total_minor"]
    _ledger_ok(services, people)


def test_an_order_of_only_held_items_quotes_nothing_and_cannot_be_bought(
    client, services, people, two_items, trainer
):
    period = _now_period()
    first = _declare(client, trainer, **period)
    assert _buy(client, trainer, first["id"]).status_code == 200
    paid = _paid_minor(client, trainer)

    again = _declare(client, trainer, **period)
    assert again["selected"] == 0 and again["held"] == 2
    assert again["quote"]["currencies"] == {} and again["quote"]["items"] == 0
    refused = _buy(client, trainer, again["id"])
    assert refused.status_code == 409
    assert "already licenses every selected item" in refused.json()["error"]["message"]
    assert _paid_minor(client, trainer) == paid
    _ledger_ok(services, people)


@pytest.mark.parametrize(
    "change",
    [
        {"territory": "FR"},  # another territory is another use
        {"ends_at_extra_days": 1},  # a day past the agreement's end is not covered
        {"starts_at_days_before": 1},  # nor a day before its start
        {"declared_uses": ["voice_cloning"]},  # a declared use the agreement lacks
    ],
)
def test_a_use_the_agreement_does_not_cover_is_charged_in_full(
    client, services, people, two_items, trainer, change
):
    period = _now_period(offset_days=2)
    first = _declare(client, trainer, **period)
    assert _buy(client, trainer, first["id"]).status_code == 200
    wanted = dict(period)
    if "ends_at_extra_days" in change:
        ends = datetime.fromisoformat(period["ends_at"]) + timedelta(days=1)
        wanted["ends_at"] = ends.isoformat()
    elif "starts_at_days_before" in change:
        starts = datetime.fromisoformat(period["starts_at"]) - timedelta(days=1)
        wanted["starts_at"] = starts.isoformat()
    else:
        wanted.update(change)
    held_use = {**TRAINING, **period, "declared_uses": [], "recipient_org": {"id": "1"}}
    assert not covers(held_use, {**held_use, **wanted})
    assert covers(held_use, {**held_use})
    again = client.post("/api/buyers/orders", headers=trainer.headers, json={**TRAINING, **wanted})
    if again.status_code == 201:  # FR/voice_cloning may be refused or select nothing
        assert again.json()["held"] == 0
    else:
        assert again.status_code == 422, again.text


def test_a_narrower_period_inside_the_agreement_is_held(
    client, services, people, two_items, trainer
):
    period = _now_period(days=180)
    first = _declare(client, trainer, **period)
    assert _buy(client, trainer, first["id"]).status_code == 200
    inside = _now_period(days=30, offset_days=10)
    again = _declare(client, trainer, **inside)
    assert again["selected"] == 0 and again["held"] == 2


def test_two_quotes_bought_one_after_the_other_charge_each_item_once(
    client, services, people, two_items, trainer
):
    """The service: both quotes were made before either was bought, so neither knew the
    other's items as held; the second purchase finds them held and is refused."""
    period = _now_period()
    a = _declare(client, trainer, **period)
    b = _declare(client, trainer, **period)
    assert a["selected"] == b["selected"] == 2
    with services.uow() as uow:
        orders.purchase_order(uow, trainer.actor, a["id"], policy=services.policy)
    paid = _paid_minor(client, trainer)
    with services.uow() as uow, pytest.raises(Conflict, match="nothing new to buy"):
        orders.purchase_order(uow, trainer.actor, b["id"], policy=services.policy)
    assert _paid_minor(client, trainer) == paid
    with services.uow() as uow:
        assert len(uow.all(AgreementRow, org_id=trainer.actor.org_id)) == 2
    _ledger_ok(services, people)


def test_a_withdrawn_and_given_again_item_is_bought_afresh(
    client, services, people, two_items, trainer
):
    """An agreement under a consent since withdrawn is not in force: the item given again
    under new consent is new to the buyer."""
    walk, _ = two_items
    period = _now_period()
    first = _declare(client, trainer, **period)
    assert _buy(client, trainer, first["id"]).status_code == 200
    owner = people["owner"]
    assert client.delete(f"/api/items/{walk.id}/consent", headers=owner.headers).status_code == 200
    with services.uow() as uow:
        from datatrust.domain.items import Item, ItemStatus

        item = uow.get(Item, walk.id)
        item.status = ItemStatus.LISTED  # listed again as the review would after re-consent
        uow.commit()
    license_training_only(client, owner, walk.id, price_minor=1400)
    again = _declare(client, trainer, **period)
    assert again["held"] == 1 and again["selected"] == 1
    assert again["quote"]["held"][0]["item_id"] != walk.id


@pytest.mark.parametrize(
    ("lang", "words"),
    [("en", "not charged again"), ("hi", "दोबारा शुल्क नहीं"), ("zu", "azikhokhiswa futhi")],
)
def test_the_order_page_says_which_items_are_already_held(
    client, services, people, two_items, trainer, lang, words
):
    period = _now_period()
    first = _declare(client, trainer, **period)
    assert _buy(client, trainer, first["id"]).status_code == 200
    again = _declare(client, trainer, **period)
    page = client.get(
        f"/buyer/orders/{again['id']}", headers={**trainer.headers, "Accept-Language": lang}
    )
    assert page.status_code == 200, page.text
    assert 'id="held">2<' in page.text and words in page.text
