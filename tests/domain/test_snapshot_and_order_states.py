"""A snapshot, its shards and an order move only along their transition tables: a build is
``building`` until made ``ready`` once, a shard ``pending`` until ``done`` once, an order
``quoted`` until ``purchased`` once; the stored values are the wire values the API and
the pages always used."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from datatrust.domain.errors import Conflict
from datatrust.domain.orders import ORDER_TRANSITIONS, Order, OrderState
from datatrust.domain.snapshots import (
    SHARD_TRANSITIONS,
    SNAPSHOT_TRANSITIONS,
    ShardState,
    Snapshot,
    SnapshotShard,
    SnapshotState,
    StateChangeRefused,
)

AT = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def _snapshot() -> Snapshot:
    return Snapshot(
        org_id=1, order_id=1, created_by=1, version="1.0.0", item_ids=[], dropped={}, shard_count=1
    )


def test_the_states_keep_the_values_stored_and_sent_before_they_were_typed():
    assert [s.value for s in SnapshotState] == ["building", "ready", "failed"]
    assert [s.value for s in ShardState] == ["pending", "done"]
    assert [s.value for s in OrderState] == ["quoted", "purchased"]
    # Every state has a row in its table; only a shard goes back (to be written again).
    assert dict(SNAPSHOT_TRANSITIONS) == {
        SnapshotState.BUILDING: {SnapshotState.READY, SnapshotState.FAILED},
        SnapshotState.READY: set(),
        SnapshotState.FAILED: set(),
    }
    assert dict(SHARD_TRANSITIONS) == {
        ShardState.PENDING: {ShardState.DONE},
        ShardState.DONE: {ShardState.PENDING},  # written again without an item left out
    }
    assert dict(ORDER_TRANSITIONS) == {
        OrderState.QUOTED: {OrderState.PURCHASED},
        OrderState.PURCHASED: set(),
    }


def test_a_snapshot_is_made_ready_once_and_never_again():
    snapshot = _snapshot()
    assert snapshot.state is SnapshotState.BUILDING and not snapshot.ready
    snapshot.mark_ready(AT)
    assert snapshot.state is SnapshotState.READY and snapshot.ready
    assert snapshot.finished_at == AT
    with pytest.raises(StateChangeRefused):
        snapshot.mark_ready(datetime(2027, 1, 1, tzinfo=UTC))
    assert snapshot.finished_at == AT  # the refused move changed nothing
    snapshot.state = SnapshotState.FAILED  # given up on: never made ready afterwards
    with pytest.raises(StateChangeRefused):
        snapshot.mark_ready(AT)
    assert not snapshot.ready


def test_a_shard_is_done_with_its_checksum_once_per_write():
    shard = SnapshotShard(snapshot_id=1, index=0, name="shard-0.tar", item_ids=[1])
    assert shard.state is ShardState.PENDING and not shard.done
    shard.mark_done("a" * 64, 10)
    assert shard.done and (shard.sha256, shard.size) == ("a" * 64, 10)
    with pytest.raises(StateChangeRefused):
        shard.mark_done("b" * 64, 20)
    assert (shard.sha256, shard.size) == ("a" * 64, 10)
    shard.write_again()  # an item left out of the build: written anew
    assert shard.state is ShardState.PENDING and (shard.sha256, shard.size) == (None, None)
    shard.mark_done("b" * 64, 20)
    assert shard.done and shard.sha256 == "b" * 64


def test_an_order_is_purchased_once_and_buying_it_again_is_a_conflict():
    order = Order(org_id=1, created_by=1, use={}, item_ids=[], excluded=0, reasons={}, quote={})
    order.id = 7
    assert order.state is OrderState.QUOTED and not order.bought
    order.mark_purchased(AT)
    assert order.bought and order.purchased_at == AT
    with pytest.raises(Conflict) as refused:
        order.mark_purchased(datetime(2027, 1, 1, tzinfo=UTC))
    assert refused.value.problems[0].code == "order.already_bought"
    assert order.purchased_at == AT
