"""Task starts under real concurrency (committed PostgreSQL): two uploads arriving together
cannot both claim the same task start."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from datatrust.adapters.db import migrate
from datatrust.bootstrap import Services, build
from datatrust.domain.campaigns import TaskStart
from datatrust.domain.clock import utcnow
from datatrust.domain.items import Item, ItemStatus
from datatrust.domain.permissions import Role
from datatrust.services.campaigns import campaigns, payfloor
from support import make_persona, make_settings, postgres_reachable, require_service


@pytest.fixture
def pg(databases, tmp_path) -> Iterator[Services]:
    require_service("PostgreSQL", postgres_reachable())
    url = databases.create("postgres")
    svc = build(make_settings(tmp_path, database_url=url), upgrade_embedded=False)
    migrate.upgrade(svc.engine)
    yield svc
    svc.close()


def arrived_item(uow, owner_id: int, campaign_id: int) -> Item:
    item = Item(
        owner_id=owner_id,
        kind="photo",
        title="",
        filename="a.jpg",
        content_type="image/jpeg",
        size=1,
        original_key="k",
        original_sha256="0" * 64,
        status=ItemStatus.RECEIVED,
        campaign_id=campaign_id,
        created_at=utcnow(),
    )
    uow.add(item)
    uow.flush()
    return item


def test_two_uploads_arriving_together_do_not_claim_the_same_task_start(pg):
    operator = make_persona(pg, "op", Role.OPERATOR).actor
    owner = make_persona(pg, "owner", Role.CONTRIBUTOR).actor
    with pg.uow() as uow:
        campaign = campaigns.create_campaign(
            uow, operator, title="Shops", kind="photo", rate_minor=250, currency="USD", quota=4
        )
    with pg.uow() as uow:
        uow.add(TaskStart(campaign_id=campaign.id, user_id=owner.user_id))
        uow.commit()

    first = pg.uow().__enter__()
    first_item = arrived_item(first, owner.user_id, campaign.id)
    payfloor.link_submission(first, first_item)  # claims the start; not committed yet

    def second_upload() -> None:
        with pg.uow() as uow:
            payfloor.link_submission(uow, arrived_item(uow, owner.user_id, campaign.id))
            uow.commit()

    racer = threading.Thread(target=second_upload)
    racer.start()
    racer.join(timeout=10)
    second_waited = racer.is_alive()  # it blocked on the claimed start's row lock
    first.commit()
    first.__exit__(None, None, None)
    racer.join(timeout=30)
    assert not second_waited, "the second upload waited for the first's claimed start"
    with pg.uow() as uow:
        (start,) = uow.all(TaskStart, campaign_id=campaign.id)
        assert start.item_id == first_item.id  # not taken over by the second upload
