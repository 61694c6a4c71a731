"""Rules the pages used to decide themselves and now ask the records (issue 15: no
business rule in a page): what an owner can do about an item's consent, whether what
ships of it may still change, whether an API token still signs requests in, whether a
snapshot can be downloaded. Services refuse by the same answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from datatrust.domain.accounts import ApiToken
from datatrust.domain.items import ERASED_FILENAME, Item, ItemKind, ItemStatus
from datatrust.domain.orders import Order
from datatrust.domain.snapshots import Snapshot

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _item(status: ItemStatus, consent_id: int | None = None, **fields: object) -> Item:
    item = Item(
        owner_id=1,
        kind=ItemKind.PHOTO,
        filename="p.jpg",
        content_type="image/jpeg",
        size=1,
        original_key="k",
        original_sha256="0" * 64,
        status=status,
        consent_id=consent_id,
    )
    for name, value in fields.items():
        setattr(item, name, value)
    return item


@pytest.mark.parametrize(
    ("status", "consent_id", "step"),
    [
        (ItemStatus.RECEIVED, None, "give"),
        (ItemStatus.PROCESSED, None, "give"),
        (ItemStatus.LISTED, None, "give"),
        (ItemStatus.REJECTED, None, None),
        (ItemStatus.LISTED, 7, "withdraw"),
        (ItemStatus.ACCEPTED, 7, "withdraw"),
    ],
)
def test_an_item_not_withdrawn_offers_consent_until_given_unless_rejected(status, consent_id, step):
    assert _item(status, consent_id).consent_step == step


def test_a_withdrawn_item_offers_consent_again_unless_rejected_or_deleted():
    # Withdrawn while still being checked, it is checked again once consent is given.
    for was in (ItemStatus.LISTED, ItemStatus.VALIDATED):
        assert _item(ItemStatus.WITHDRAWN, 7, withdrawn_from=was).consent_step == "give_again"
    for never in (
        _item(ItemStatus.WITHDRAWN, 7, withdrawn_from=ItemStatus.REJECTED),
        _item(ItemStatus.WITHDRAWN, 7, withdrawn_from=ItemStatus.LISTED, filename=ERASED_FILENAME),
    ):
        assert never.reconsent_problem() is not None and never.consent_step is None


def test_only_an_item_whose_checks_passed_and_that_is_still_offered_ships():
    shipping = {s for s in ItemStatus if _item(s).ships}
    assert shipping == {ItemStatus.PROCESSED, ItemStatus.ACCEPTED, ItemStatus.LISTED}


def test_a_token_is_live_until_it_is_revoked_or_its_end_is_reached():
    token = ApiToken(user_id=1, name="t", token_hash="h", prefix="p", scopes=[], expires_at=NOW)
    assert token.state_at(NOW - timedelta(seconds=1)) == "live"
    assert token.state_at(NOW) == "expired"
    token.expires_at = NOW.replace(tzinfo=None) + timedelta(days=1)  # as SQLite reads it
    assert token.state_at(NOW) == "live"
    token.revoked_at = NOW
    assert token.state_at(NOW) == "revoked"


def test_only_a_built_snapshot_can_be_downloaded():
    snapshot = Snapshot(
        org_id=1,
        order_id=1,
        created_by=1,
        version="1.0.0",
        item_ids=[],
        dropped={},
        shard_count=1,
    )
    for state, ready in (("building", False), ("failed", False), ("ready", True)):
        snapshot.state = state
        assert snapshot.ready is ready


def test_an_order_is_bought_once_it_is_purchased():
    order = Order(org_id=1, created_by=1, use={}, item_ids=[], excluded=0, reasons={}, quote={})
    assert not order.bought
    order.state = "purchased"
    assert order.bought
