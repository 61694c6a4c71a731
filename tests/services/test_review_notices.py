"""A review decision reaches the contributor (issue 18 §6): an item accepted (with the pay
it brought) or rejected (with the reviewer's reason) is a notice in her inbox and a mail,
each in her language, unless she turned that kind's mail off."""

from __future__ import annotations

from test_campaign_money import accept, opened, reject, waiting_item  # noqa: F401  (a fixture)

from datatrust.domain.accounts import User
from datatrust.domain.notifications import NoticeKind, Notification
from datatrust.services.accounts import notifications
from support import mail_to


def notices_of(services, user_id: int) -> list[Notification]:
    with services.uow() as uow:
        return uow.all(Notification, user_id=user_id, order_by="id")


def test_an_accepted_and_a_rejected_item_reach_the_inbox_and_mail_in_her_language(
    services,
    people,
    opened,  # noqa: F811
):
    owner = people["owner"]
    with services.uow() as uow:
        uow.one(User, email=owner.email).language = "hi"
        uow.commit()
    taken = waiting_item(services, owner.actor.user_id, opened)
    accept(services, people, opened.id, taken)
    refused = waiting_item(services, owner.actor.user_id, opened)
    reject(services, people, opened.id, refused, note="Wind covers the street")

    accepted, rejected = notices_of(services, owner.actor.user_id)
    assert (accepted.kind, accepted.params["item_id"]) == (NoticeKind.ITEM_ACCEPTED, taken)
    assert (rejected.kind, rejected.params["item_id"]) == (NoticeKind.ITEM_REJECTED, refused)
    said = [notifications.describe(n, "hi") for n in (accepted, rejected)]
    assert said[0].body != notifications.describe(accepted, "en").body
    assert said[0].link == f"/my/items/{taken}" and said[1].link == f"/my/items/{refused}"
    subjects = [m["Subject"] for m in mail_to(services, owner.email)]
    assert said[0].title in subjects and said[1].title in subjects


def test_a_review_notice_whose_mail_is_turned_off_stays_in_the_inbox_only(
    services,
    people,
    opened,  # noqa: F811
):
    owner = people["owner"]
    with services.uow() as uow:
        everything_but_rejections = {k.value for k in notifications.kinds_for(owner.actor.role)}
        everything_but_rejections.discard(NoticeKind.ITEM_REJECTED.value)
        notifications.set_mail_preferences(uow, owner.actor, everything_but_rejections)
    item_id = waiting_item(services, owner.actor.user_id, opened)
    reject(services, people, opened.id, item_id)
    (rejected,) = notices_of(services, owner.actor.user_id)
    assert rejected.kind is NoticeKind.ITEM_REJECTED
    title = notifications.describe(rejected, "en").title
    assert title not in [m["Subject"] for m in mail_to(services, owner.email)]
