"""Notifications (issue 18 §6): what happens to a person's work, payouts, organisation
and data reaches their inbox and, unless they turned that kind off, their mail, each in
their own language: a payout sent, a vetting decision, a buyer told to delete a withdrawn
item, and that buyer's attestation reaching the contributor."""

from __future__ import annotations

import pytest
from test_deletion_statement import _attest, withdrawn  # noqa: F401  (a fixture)
from test_pages_payouts import earned  # noqa: F401  (a fixture)

from datatrust.adapters.payments import FakePayoutProvider
from datatrust.domain.accounts import User
from datatrust.domain.money import Money
from datatrust.domain.notifications import NoticeKind, Notification
from datatrust.domain.permissions import Role
from datatrust.i18n import format_money, translator
from datatrust.services import money
from datatrust.services.accounts import accounts, notifications
from datatrust.services.money import payouts
from support import add_payout_method, mail_to, make_persona


def set_language(services, email: str, lang: str) -> None:
    with services.uow() as uow:
        uow.one(User, email=email).language = lang
        uow.commit()


def pay_out(services, persona, minor: int = 1200, provider=None) -> None:
    method = add_payout_method(
        services,
        persona.actor,
        "bank_transfer",
        {"account_holder": "T N", "account_number": "12345678", "bank_code": "ABCD1234"},
    )
    with services.uow() as uow:
        payouts.request_payout_to(
            uow,
            persona.actor,
            Money(minor, "USD"),
            "n",
            method_id=method.id,
            minimum=Money(1000, "USD"),
            hold=services.policy.payout_method_hold,
        )
    money.run_payout_batch(services.uow, provider or FakePayoutProvider())


def test_a_payout_sent_reaches_the_inbox_and_the_mail_in_the_persons_language(
    client,
    services,
    earned,  # noqa: F811
):
    set_language(services, earned.email, "zu")
    pay_out(services, earned)
    _ = translator("zu").gettext
    sentence = _("Your payout of %(amount)s was sent.") % {
        "amount": format_money(Money(1200, "USD"), "zu")
    }
    (mail,) = [m for m in mail_to(services, earned.email) if sentence in m.get_content()]
    assert mail["Subject"] == _("Your payout was sent")
    inbox = client.get("/my/inbox?lang=zu", headers=earned.headers)
    assert sentence in inbox.text and _("New notices: %(count)s") % {"count": 1} in inbox.text
    read = client.post("/my/inbox/read", headers=earned.headers, follow_redirects=False)
    assert read.status_code == 303
    assert "Izaziso ezintsha" not in client.get("/my/inbox?lang=zu", headers=earned.headers).text


def test_a_kind_turned_off_is_not_mailed_but_still_in_the_inbox(client, services, earned):  # noqa: F811
    page = client.get("/my/account?lang=en", headers=earned.headers)
    assert 'value="payout_paid" checked' in page.text
    kept = [k.value for k in notifications.kinds_for(Role.CONTRIBUTOR) if k.value != "payout_paid"]
    saved = client.post(
        "/my/account/notices", data={"mail": kept}, headers=earned.headers, follow_redirects=False
    )
    assert saved.status_code == 303
    assert 'value="payout_paid">' in client.get("/my/account", headers=earned.headers).text
    pay_out(services, earned)
    # Only the security notice of the method added (always mailed) speaks of a payout.
    subjects = [m["Subject"] for m in mail_to(services, earned.email)]
    assert [s for s in subjects if "payout" in s.lower()] == [
        "A payout method was added to your Datatrust account"
    ]
    with services.uow() as uow:
        (note,) = uow.all(Notification, user_id=earned.actor.user_id)
        assert note.kind is NoticeKind.PAYOUT_PAID


def test_a_kind_a_person_cannot_receive_is_refused(client, services, earned):  # noqa: F811
    response = client.post(
        "/my/account/notices", data={"mail": ["vetting_decided"]}, headers=earned.headers
    )
    assert response.status_code == 422


def test_every_member_of_a_buyer_organisation_hears_the_vetting_decision_in_their_language(
    client, services, people
):
    buyer = make_persona(services, "newlab", Role.BUYER, org=True)
    set_language(services, buyer.email, "hi")
    with services.uow() as uow:
        accounts.decide_organisation(
            uow, people["operator"].actor, buyer.actor.org_id, "reject", "no website given"
        )
    _ = translator("hi").gettext
    (mail,) = mail_to(services, buyer.email)
    assert mail["Subject"] == _("Your organisation was not approved")
    assert "no website given" in mail.get_content()
    inbox = client.get("/my/inbox?lang=hi", headers=buyer.headers)
    assert _("Your organisation was not approved") in inbox.text


def test_a_withdrawal_tells_the_buyer_to_delete_and_its_attestation_tells_the_contributor(
    client,
    services,
    people,
    withdrawn,  # noqa: F811
):
    trainer, walk, snap = withdrawn
    told = client.get("/my/inbox?lang=en", headers=trainer.headers).text
    assert "Delete a withdrawn item" in told and 'href="/buyer/feed"' in told
    assert [
        m for m in mail_to(services, trainer.email) if m["Subject"] == "Delete a withdrawn item"
    ]
    done = _attest(client, trainer, walk, snapshots=[snap["id"]])
    assert done.status_code == 201, done.text
    owner = client.get("/my/inbox?lang=en", headers=people["owner"].headers).text
    assert "Trainer Labs Ltd attested on" in owner
    assert f'href="/my/items/{walk.id}/passport"' in owner


@pytest.mark.parametrize("lang", ["en", "hi", "zu"])
def test_every_kind_reads_in_words_in_each_language(lang):
    params = {
        "item_id": 1,
        "task": "Street sounds",
        "amount_minor": 150,
        "currency": "USD",
        "bonus_minor": 50,
        "org": "Ada Lab Ltd",
        "status": "suspended",
        "reason": "late",
        "deadline": "2026-12-30T00:00:00+00:00",
        "at": "2026-12-03T00:00:00+00:00",
    }
    english = {}
    for kind in NoticeKind:
        said = notifications.describe(Notification(1, kind, params), lang)
        assert said.title and said.body and said.link.startswith("/")
        assert "%(" not in said.body and "_" not in said.body
        english[kind] = notifications.describe(Notification(1, kind, params), "en").body
        if lang != "en":
            assert said.body != english[kind], kind
    accepted = notifications.describe(Notification(1, NoticeKind.ITEM_ACCEPTED, params), lang)
    assert format_money(Money(150, "USD"), lang) in accepted.body
    assert format_money(Money(50, "USD"), lang) in accepted.body


def test_a_refused_payout_tells_the_contributor_in_her_language_that_the_money_is_back(
    client,
    services,
    earned,  # noqa: F811
):
    set_language(services, earned.email, "hi")
    pay_out(services, earned, provider=FakePayoutProvider(refuse_users={earned.actor.user_id}))
    with services.uow() as uow:
        (note,) = uow.all(Notification, user_id=earned.actor.user_id)
    assert note.kind is NoticeKind.PAYOUT_FAILED and note.params["amount_minor"] == 1200
    said = notifications.describe(note, "hi")
    assert format_money(Money(1200, "USD"), "hi") in said.body
    assert said.body != notifications.describe(note, "en").body
    assert said.title in [m["Subject"] for m in mail_to(services, earned.email)]
    assert said.body in client.get("/my/inbox?lang=hi", headers=earned.headers).text
