"""What someone holding a stolen API token or session, but not the password, can no longer
do (outside review, session 10): keep the account after the owner resets or changes the
password (A), divert payouts to a method of their own (B), lock the owner out with
two-step sign-in (C), ask for reset mails without limit (D), or write to the audit log
without limit with bad download links (E). Each owner hears by mail, in their language."""

from __future__ import annotations

import time
from datetime import timedelta
from urllib.parse import urlsplit

import pyotp
import pytest
from test_seed_story import _bought_snapshot, trainer  # noqa: F401 (a fixture)

from datatrust.adapters.payments import FakePayoutProvider
from datatrust.domain.accounts import ApiToken, SignInAttempt, User
from datatrust.domain.audit import AuditEvent
from datatrust.domain.errors import Conflict, PermissionDenied, Problem
from datatrust.domain.jobs import OutboxJob
from datatrust.domain.money import Money
from datatrust.domain.payout_methods import PayoutMethod
from datatrust.domain.permissions import ANONYMOUS
from datatrust.i18n import render_problem, translator
from datatrust.services import accounts, market, money
from datatrust.services.accounts import accounts as account_service
from datatrust.services.money import payouts
from support import PASSWORD, add_payout_method, mail_to, post_form, signed_in

NEW_PASSWORD = "a brand new long passphrase 9!"


def set_language(services, persona, lang: str) -> None:
    with services.uow() as uow:
        uow.get(User, persona.actor.user_id).language = lang
        uow.commit()


def subjects(services, persona) -> list[str]:
    return [m["Subject"] for m in mail_to(services, persona.email)]


# --- A: a new password ends every token --------------------------------------------------


def test_a_password_reset_revokes_the_accounts_api_tokens_and_mails_the_owner(
    client, services, people
):
    owner = people["owner"]
    set_language(services, owner, "hi")
    assert client.get("/api/me", headers=owner.headers).status_code == 200
    secret = services.settings.secret_key.get_secret_value()
    with services.uow() as uow:
        user = uow.get(User, owner.actor.user_id)
        token = account_service.password_reset_token(secret, user, int(time.time()) + 3600)
    with services.uow() as uow:
        accounts.reset_password(
            uow, services.hasher, secret, token, NEW_PASSWORD, session_max_age_seconds=3600
        )
    me = client.get("/api/me", headers=owner.headers)
    assert me.status_code == 401 and me.json()["problems"][0]["code"] == "token.revoked"
    assert client.get("/my/earnings", headers=owner.headers).status_code == 401
    _ = translator("hi").gettext
    assert subjects(services, owner) == [_("Your Datatrust password was changed")]
    assert "API" in mail_to(services, owner.email)[0].get_content()


def test_changing_the_password_revokes_every_token_keeps_this_browser_and_says_so(
    client, services, people
):
    owner = people["owner"]
    set_language(services, owner, "zu")
    session = signed_in(client, owner)
    changed = client.post(
        "/my/account/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=session,
        follow_redirects=False,
    )
    assert changed.status_code == 303
    page = client.get(changed.headers["location"] + "&lang=zu", headers=session)
    assert page.status_code == 200  # this browser is still signed in
    _ = translator("zu").gettext
    assert (
        _(
            "Your password is changed. Other browsers signed in to your account were signed"
            " out, and your API tokens were revoked."
        )
        in page.text
    )
    client.cookies.clear()
    assert client.get("/api/me", headers=owner.headers).status_code == 401
    with services.uow() as uow:
        tokens = uow.all(ApiToken, user_id=owner.actor.user_id)
    assert tokens and all(t.revoked_at is not None for t in tokens)
    assert subjects(services, owner) == [_("Your Datatrust password was changed")]


def test_a_token_cannot_make_a_token_that_outlives_it(client, services, people):
    owner = people["owner"]
    short = client.post(
        "/api/tokens",
        json={"name": "short", "scopes": ["token:create", "account:read"], "days": 30},
        headers=owner.headers,
    )
    assert short.status_code == 201, short.text
    by_short = {"Authorization": f"Bearer {short.json()['token']}"}
    longer = client.post(
        "/api/tokens",
        json={"name": "longer", "scopes": ["account:read"], "days": 365},
        headers=by_short,
    )
    assert longer.status_code == 201
    with services.uow() as uow:
        maker = uow.get(ApiToken, short.json()["id"])
        made = uow.get(ApiToken, longer.json()["id"])
        assert made.expires_at == maker.expires_at  # cut to its maker's end, not a year
    # From a session (no maker token), the days asked for stand.
    session = signed_in(client, owner)
    year = client.post(
        "/api/tokens",
        json={"name": "year", "scopes": ["account:read"], "days": 365},
        headers=session,
    )
    with services.uow() as uow:
        assert uow.get(ApiToken, year.json()["id"]).expires_at > maker.expires_at


# --- C: two-step sign-in takes the password and a session -----------------------------------


def test_a_token_can_neither_start_nor_turn_on_two_step_sign_in(client, services, people):
    """The review's attack: a buyer's token alone turned two-step sign-in on, with a secret
    only the attacker held; the owner's password no longer signed in."""
    buyer = people["buyer"]
    body = {"password": PASSWORD}
    started = client.post("/api/me/totp", json=body, headers=buyer.headers)
    assert started.status_code == 403
    assert started.json()["problems"][0]["code"] == "account.password_session_required"
    on = client.post("/api/me/totp/enable", json={"code": "123456", **body}, headers=buyer.headers)
    assert on.status_code == 403
    with services.uow() as uow:
        user = uow.get(User, buyer.actor.user_id)
        assert user.totp_secret is None and user.totp_enabled_at is None


def test_a_session_without_the_password_cannot_turn_two_step_sign_in_on(client, services, people):
    buyer = people["buyer"]
    session = signed_in(client, buyer)
    wrong = client.post("/api/me/totp", json={"password": "not the password"}, headers=session)
    assert wrong.status_code == 422
    problem = wrong.json()["problems"][0]
    assert (problem["field"], problem["code"]) == ("current_password", "password.wrong")
    started = client.post("/api/me/totp", json={"password": PASSWORD}, headers=session)
    secret = started.json()["secret"]
    code = pyotp.TOTP(secret).now()
    guessed = client.post(
        "/api/me/totp/enable", json={"code": code, "password": "guess"}, headers=session
    )
    assert guessed.status_code == 422
    assert guessed.json()["problems"][0]["code"] == "password.wrong"
    with services.uow() as uow:
        assert uow.get(User, buyer.actor.user_id).totp_enabled_at is None
        # Each wrong password counts as a failed sign-in of the account.
        assert len(uow.all(SignInAttempt, email=buyer.email)) == 2


def test_the_owner_is_mailed_in_their_language_when_two_step_sign_in_is_turned_on(
    client, services, people
):
    operator = people["operator"]
    set_language(services, operator, "hi")
    session = signed_in(client, operator)
    secret = client.post("/api/me/totp", json={"password": PASSWORD}, headers=session).json()[
        "secret"
    ]
    on = client.post(
        "/api/me/totp/enable",
        json={"code": pyotp.TOTP(secret).now(), "password": PASSWORD},
        headers=session,
    )
    assert on.status_code == 200
    _ = translator("hi").gettext
    assert subjects(services, operator) == [
        _("Two-step sign-in was turned on for your Datatrust account")
    ]


def test_the_account_page_asks_for_the_password_before_two_step_sign_in_in_isizulu(
    client, services, people
):
    operator = people["operator"]
    session = signed_in(client, operator)
    page = client.get("/my/account?lang=zu", headers=session)
    assert 'name="two_step_password"' in page.text
    refused = client.post(
        "/my/account/two-step/start?lang=zu", data={"two_step_password": "nope"}, headers=session
    )
    assert refused.status_code == 422
    said = translator("zu").gettext
    wrong = render_problem(Problem("current_password", "password.wrong"), "zu")
    assert wrong in refused.text and 'id="e-two_step_password-1"' in refused.text
    assert said("Turn on two-step sign-in") in refused.text
    with services.uow() as uow:
        assert uow.get(User, operator.actor.user_id).totp_secret is None


# --- B: payout methods ------------------------------------------------------------------------

UPI = {"rail": "upi", "account_holder": "Asha Devi", "vpa": "asha@okbank"}


def test_a_token_cannot_add_a_payout_method(client, services, people):
    owner = people["owner"]
    added = client.post(
        "/my/payout-methods",
        data={**UPI, "current_password": PASSWORD},
        headers=owner.headers,
        follow_redirects=False,
    )
    assert added.status_code == 403
    with services.uow() as uow:
        assert uow.all(PayoutMethod, user_id=owner.actor.user_id) == []


def test_adding_a_payout_method_takes_the_password_and_mails_the_owner(client, services, people):
    owner = people["owner"]
    set_language(services, owner, "zu")
    session = signed_in(client, owner)
    wrong = client.post(
        "/my/payout-methods?lang=zu",
        data={**UPI, "current_password": "not mine"},
        headers=session,
    )
    assert wrong.status_code == 422 and 'id="e-upi-current_password-1"' in wrong.text
    with services.uow() as uow:
        assert uow.all(PayoutMethod, user_id=owner.actor.user_id) == []
    assert subjects(services, owner) == []
    added = client.post(
        "/my/payout-methods",
        data={**UPI, "current_password": PASSWORD},
        headers=session,
        follow_redirects=False,
    )
    assert added.status_code == 303
    _ = translator("zu").gettext
    (mail,) = mail_to(services, owner.email)
    assert mail["Subject"] == _("A payout method was added to your Datatrust account")
    assert "as···@okbank" in mail.get_content() and "UPI" in mail.get_content()
    page = client.get("/my/payout-methods?lang=zu", headers=session)
    hours = services.policy.payout_method_hold.total_seconds() // 3600
    assert f"{int(hours)}" in page.text
    assert _("Payouts go to it from %(when)s.").split("%")[0] in page.text


@pytest.fixture
def earned(services, people):
    """The owner has earned USD 30.00."""
    from datatrust.adapters.payments import FakeCardRail
    from support import stored_campaign

    buyer = people["buyer"].actor
    campaign = stored_campaign(services, buyer)
    with services.uow() as uow:
        money.fund_campaign_escrow(uow, FakeCardRail(), buyer, campaign.id, Money(6000, "USD"), "k")
    with services.uow() as uow:
        money.pay_accepted_item(
            uow, campaign.id, people["owner"].actor.user_id, Money(3000, "USD"), 101
        )
        uow.commit()
    return people["owner"]


def test_a_new_payout_method_gets_no_payout_until_its_holding_period_is_over(services, earned):
    """The review's attack: a token added the attacker's account, and the weekly payout
    paid the whole balance to the newest method."""
    hold = services.policy.payout_method_hold
    bank = {"account_holder": "T N", "account_number": "12345678", "bank_code": "ABCD1234"}
    add_payout_method(services, earned.actor, "bank_transfer", bank)  # the owner's, long ago
    theirs = add_payout_method(
        services,
        earned.actor,
        "bank_transfer",
        {**bank, "account_number": "66667777"},
        aged=False,
    )
    with services.uow() as uow, pytest.raises(Conflict) as held:
        payouts.request_payout_to(
            uow,
            earned.actor,
            Money(1000, "USD"),
            "to-theirs",
            method_id=theirs.id,
            minimum=Money(1000, "USD"),
            hold=hold,
        )
    assert held.value.problem.code == "payout_method.on_hold"
    # The weekly payout (asked without a method) goes to the older method, not the new one.
    with services.uow() as uow:
        (weekly,) = payouts.request_weekly_payouts(uow, Money(1000, "USD"))
    fake = FakePayoutProvider()
    money.run_payout_batch(
        services.uow, fake, destinations=payouts.destination_for(services.storage, hold)
    )
    (sent,) = fake.instructions
    assert sent.payout_id == weekly.id
    assert sent.destination.details["account_number"] == "12345678"


# --- D: forgot-password is throttled per client ------------------------------------------


def test_one_address_asking_for_many_reset_mails_waits_and_writes_nothing_more(client, services):
    """Each request writes a counter row, an audit event and an outbox job, whatever the
    address: unthrottled, one client could fill the tables (and the mail queue)."""
    free = services.settings.sign_up_client_free_requests
    for n in range(free):
        sent = post_form(client, "/forgot-password", data={"email": f"someone{n}@example.org"})
        assert sent.status_code == 200, sent.text
    with services.uow() as uow:
        jobs_before = uow.count(OutboxJob)
        events_before = uow.count(AuditEvent)
    refused = post_form(client, "/forgot-password?lang=hi", data={"email": "late@example.org"})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    throttled = render_problem(Problem(None, "account.reset_throttled"), "hi")
    assert throttled in refused.text and 'value="late@example.org"' in refused.text
    with services.uow() as uow:
        assert uow.count(OutboxJob) == jobs_before
        assert uow.count(AuditEvent) == events_before


# --- E: bad download links ----------------------------------------------------------------


def test_bad_links_to_snapshots_that_do_not_exist_write_nothing_to_the_audit_log(client, services):
    with services.uow() as uow:
        before = uow.count(AuditEvent)
    answers = {
        client.get(f"/api/snapshots/{n}/files/x?expires=1&sig=00").status_code for n in range(1, 51)
    }
    assert answers == {403}  # the same answer as for a snapshot that exists
    with services.uow() as uow:
        assert uow.count(AuditEvent) == before


def test_bad_links_to_a_real_snapshot_are_audited_once_per_kind_in_a_quarter_hour(
    client,
    services,
    people,
    trainer,  # noqa: F811
):
    _, snap = _bought_snapshot(client, services, people, trainer)
    path = urlsplit(snap["downloads"]["files"]["croissant.json"]["url"]).path
    with services.uow() as uow:
        before = uow.count(AuditEvent)
    for _ in range(20):
        assert client.get(path, params={"expires": "1", "sig": "00"}).status_code == 403
        assert client.get(path).status_code == 403
    with services.uow() as uow:
        assert uow.count(AuditEvent) == before + 2  # one altered, one incomplete
        (altered,) = [
            e
            for e in uow.all(AuditEvent, tag="snapshot:refuse")
            if e.data.get("link") == "download.altered"
        ]
    assert altered.data["file"] == "croissant.json"
    # A quarter of an hour later the next one is recorded again.
    later = altered.at + timedelta(minutes=15, seconds=1)
    secret = services.settings.secret_key.get_secret_value()
    with services.uow() as uow, pytest.raises(PermissionDenied):
        market.open_download(
            uow,
            services.storage,
            ANONYMOUS,
            secret,
            snap["id"],
            "croissant.json",
            expires="1",
            sig="00",
            now=later,
        )
    with services.uow() as uow:
        assert uow.count(AuditEvent) == before + 3
