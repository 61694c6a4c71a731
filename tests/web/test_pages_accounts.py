"""Accounts on the pages (issue 18 §7): a forgotten password comes back through a
single-use, expiring link by mail, with the same answer for an address that has no
account; a signed-in person changes their password and their profile (display name,
language, the currency amounts are shown in)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from datatrust.domain.accounts import SignInAttempt, User, WebSession
from datatrust.domain.clock import utcnow
from datatrust.domain.errors import NotFound, Problem
from datatrust.i18n import render_problem, translator
from datatrust.services.accounts import accounts
from support import PASSWORD, mail_to, post_form, sign_up_page

RESET_LINK = re.compile(r"/reset-password\?token=([0-9a-f.]+)")
NEW_PASSWORD = "purple tractor sings quietly"


def reset_token(services, email: str) -> str:
    return RESET_LINK.search(mail_to(services, email)[-1].get_content()).group(1)


def sign_in(client, email: str, password: str):
    return post_form(
        client,
        "/sign-in",
        data={"email": email, "password": password},
        follow_redirects=False,
    )


@pytest.fixture
def lerato(client, services):
    sign_up_page(client, services, "lerato@example.org", display_name="Lerato", language="zu")
    return "lerato@example.org"


def test_a_forgotten_password_is_reset_by_the_mailed_link_which_then_stops_working(
    client, services, lerato
):
    client.cookies.clear()
    asked = post_form(client, "/forgot-password", data={"email": "Lerato@Example.org "})
    assert asked.status_code == 200 and "lerato@example.org" in asked.text
    (mail,) = [m for m in mail_to(services, lerato) if "reset-password" in m.get_content()]
    # In the account's language (isiZulu), whatever the form's.
    assert mail["Subject"] == translator("zu").gettext("Set a new Datatrust password")
    token = reset_token(services, lerato)
    form = client.get(f"/reset-password?token={token}")
    assert form.status_code == 200 and 'name="new_password"' in form.text

    weak = post_form(
        client,
        f"/reset-password?token={token}",
        "/reset-password",
        data={"token": token, "new_password": "short"},
    )
    assert weak.status_code == 422 and "use at least 10 characters" in weak.text

    done = post_form(
        client,
        f"/reset-password?token={token}",
        "/reset-password",
        data={"token": token, "new_password": NEW_PASSWORD},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/my/items"
    assert client.get("/my/items").status_code == 200  # signed in by the new password

    client.cookies.clear()
    assert client.get(f"/reset-password?token={token}").status_code == 404  # single use
    assert sign_in(client, lerato, PASSWORD).status_code == 401
    assert sign_in(client, lerato, NEW_PASSWORD).status_code == 303


def test_a_reset_link_alone_does_not_sign_in_an_account_with_two_step_sign_in(
    client, services, lerato
):
    """A reset link proves only the mailbox: with two-step sign-in on, the new password is
    set and every browser signed out, but a session needs the app's code as well."""
    with services.uow() as uow:
        uow.one(User, email=lerato).totp_enabled_at = utcnow()
        uow.commit()
    client.cookies.clear()
    post_form(client, "/forgot-password", data={"email": lerato})
    token = reset_token(services, lerato)
    done = post_form(
        client,
        f"/reset-password?token={token}",
        "/reset-password",
        data={"token": token, "new_password": NEW_PASSWORD},
        follow_redirects=False,
    )
    assert done.status_code == 200 and "session" not in done.cookies
    assert "Your new password is set. Sign in with it and a code" in done.text
    assert 'name="totp_code"' in done.text
    assert client.get("/my/items", follow_redirects=False).status_code in (302, 303, 401)
    with services.uow() as uow:
        user = uow.one(User, email=lerato)
        assert uow.all(WebSession, user_id=user.id, revoked_at=None) == []
    # The new password is the password now; the app's code is still asked for.
    assert sign_in(client, lerato, NEW_PASSWORD).status_code == 401


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client, services, lerato):
    client.cookies.clear()
    known = post_form(client, "/forgot-password", data={"email": lerato})
    unknown = post_form(client, "/forgot-password", data={"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 200

    def scrub(html: str) -> str:
        html = re.sub(r'name="csrf_token" value="[^"]*"', "", html)
        return html.replace(lerato, "X").replace("nobody@example.org", "X")

    assert scrub(known.text) == scrub(unknown.text)
    assert mail_to(services, "nobody@example.org") == []


def test_a_reset_link_expires_after_an_hour_and_a_forged_one_opens_nothing(services, lerato):
    secret = services.settings.secret_key.get_secret_value()
    with services.uow() as uow:
        user = uow.one(User, email=lerato)
        late = int((utcnow() - timedelta(seconds=1)).timestamp())
        expired = accounts.password_reset_token(secret, user, late)
        fresh = int((utcnow() + timedelta(hours=1)).timestamp())
        forged = accounts.password_reset_token("not the secret", user, fresh)
        for token in (expired, forged, "1.2.3", "", "x" * 500):
            with pytest.raises(NotFound):
                accounts.password_reset_user(uow, secret, token)
        good = accounts.password_reset_token(secret, user, fresh)
        assert accounts.password_reset_user(uow, secret, good).email == lerato


def test_reset_mails_to_one_address_are_capped_per_hour(client, services, lerato):
    client.cookies.clear()
    for _ in range(5):
        assert post_form(client, "/forgot-password", data={"email": lerato}).status_code == 200
    resets = [m for m in mail_to(services, lerato) if "reset-password" in m.get_content()]
    assert len(resets) == accounts.PASSWORD_RESET_MAILS_PER_HOUR


def test_asking_for_resets_is_no_failed_sign_in_of_the_account(client, services, lerato):
    client.cookies.clear()
    for _ in range(8):
        post_form(client, "/forgot-password", data={"email": lerato})
    assert sign_in(client, lerato, PASSWORD).status_code == 303


def test_changing_the_password_needs_the_current_one_and_signs_other_browsers_out(
    client, services, lerato
):
    with services.uow() as uow:
        user = uow.one(User, email=lerato)
        other = accounts.start_session(uow, user, max_age_seconds=3600)
    wrong = post_form(
        client,
        "/my/account?lang=en",
        "/my/account/password",
        data={"current_password": "not it at all", "new_password": NEW_PASSWORD},
    )
    assert wrong.status_code == 422 and "the password is wrong" in wrong.text
    done = post_form(
        client,
        "/my/account",
        "/my/account/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert client.get("/my/account").status_code == 200  # this browser stays signed in
    with services.uow() as uow:
        revoked = uow.one(WebSession, session_hash=accounts.digest(other.secret))
        assert revoked.revoked_at is not None
    client.cookies.clear()
    assert sign_in(client, lerato, NEW_PASSWORD).status_code == 303


def test_the_profile_sets_name_language_and_the_currency_amounts_are_shown_in(
    client, services, lerato
):
    page = client.get("/my/account?lang=en")
    assert 'value="Lerato"' in page.text and '<option value="INR"' in page.text
    bad = post_form(
        client,
        "/my/account?lang=en",
        "/my/account/profile",
        data={"display_name": "Lerato M", "language": "xx", "currency": "XYZ"},
    )
    assert bad.status_code == 422
    assert "choose one of the languages offered" in bad.text
    assert "choose one of the currencies offered" in bad.text
    saved = post_form(
        client,
        "/my/account",
        "/my/account/profile",
        data={"display_name": "Lerato M", "language": "hi", "currency": "inr"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    shown = client.get(saved.headers["location"])
    assert '<html lang="hi">' in shown.text  # the pages switch at once
    assert translator("hi").gettext("Your profile is saved.") in shown.text
    with services.uow() as uow:
        user = uow.one(User, email=lerato)
        assert (user.display_name, user.language, user.currency) == ("Lerato M", "hi", "INR")
        assert accounts.my_account(uow, accounts.actor_for(uow, user)).currency == "INR"
        from datatrust.services import money

        assert money.home_currency(uow, accounts.actor_for(uow, user)) == "INR"


def test_a_stolen_session_cannot_guess_the_password_through_the_change_form(
    client, services, lerato
):
    """The attack: the change-password form checked the current password with no limit,
    so a stolen session (or a browser left signed in) could try one guess after another
    as fast as the CPUs hash, and learn a password perhaps used elsewhere too. Wrong
    guesses now count as failed sign-ins of the account: after the free ones the form
    says when to try again, in the reader's language, and checks nothing meanwhile."""
    free = services.settings.sign_in_free_failures
    for n in range(free):
        wrong = post_form(
            client,
            "/my/account?lang=en",
            "/my/account/password",
            data={"current_password": f"guess number {n}", "new_password": NEW_PASSWORD},
        )
        assert wrong.status_code == 422
    with services.uow() as uow:  # the wait outlasts a slow machine (1 s, 2 s, … 32 s)
        for _ in range(5):
            uow.add(SignInAttempt(email=lerato, at=utcnow(), client="ip:elsewhere"))
        uow.commit()
    refused = post_form(
        client,
        "/my/account?lang=hi",
        "/my/account/password",
        data={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    hindi = translator("hi").gettext("too many failed sign-ins; wait a little and try again")
    assert hindi in refused.text
    with services.uow() as uow:  # the right password, tried while refused, changed nothing
        assert services.hasher.verify(uow.one(User, email=lerato).password_hash, PASSWORD)


TOKEN_SHOWN = re.compile(r'<code id="new-token">(dt_[A-Za-z0-9_-]+)</code>')


def test_api_tokens_are_made_shown_once_and_revoked_on_their_own_page(
    client, services, people, lerato
):
    """Issue 18 §9: a page to list, create (a name, how long it works, what it may do) and
    revoke API tokens, in the reader's language, its forms under CSRF; the secret is on
    the answer that made it and nowhere after."""
    empty = client.get("/my/tokens?lang=zu")
    assert empty.status_code == 200
    assert "Amathokheni e-API" in empty.text and "Awekho amathokheni okwamanje." in empty.text
    assert 'href="/my/tokens"' in client.get("/my/account").text
    forged = client.post("/my/tokens", data={"name": "from elsewhere", "days": "30"})
    assert forged.status_code == 403  # no CSRF token: another site cannot make one
    unnamed = post_form(client, "/my/tokens?lang=zu", "/my/tokens", data={"name": " "})
    assert unnamed.status_code == 422 and "nikeza ithokheni igama" in unnamed.text

    made = post_form(
        client,
        "/my/tokens?lang=hi",
        "/my/tokens",
        data={"name": "phone uploads", "days": "30", "access": "read"},
    )
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    assert "इसे अभी कॉपी करें" in made.text
    secret = TOKEN_SHOWN.search(made.text).group(1)  # type: ignore[union-attr]
    bearer = {"Authorization": f"Bearer {secret}"}
    client.cookies.clear()
    assert client.get("/api/me", headers=bearer).json()["email"] == lerato
    read_only = client.post("/api/me/erase", json={"confirm": "erase me"}, headers=bearer)
    assert read_only.status_code == 403  # "read only" cannot write
    signed = sign_in(client, lerato, PASSWORD)
    assert signed.status_code == 303

    listed = client.get("/my/tokens?lang=hi")
    assert secret not in listed.text and f"…{secret[3:10]}…" in listed.text  # its start
    assert "phone uploads" in listed.text and "केवल पढ़ना" in listed.text
    with services.uow() as uow:
        actor = accounts.actor_for(uow, uow.one(User, email=lerato))
        (token,) = accounts.list_api_tokens(uow, actor)
    assert round((token.expires_at - token.created_at).total_seconds() / 86400) == 30
    someone_elses = client.post(f"/my/tokens/{token.id}/revoke", headers=people["other"].headers)
    assert someone_elses.status_code == 404
    assert client.get("/api/me", headers=bearer).status_code == 200  # still works
    revoked = post_form(
        client, "/my/tokens", f"/my/tokens/{token.id}/revoke", data={}, follow_redirects=False
    )
    assert revoked.status_code == 303
    client.cookies.clear()
    assert client.get("/api/me", headers=bearer).status_code == 401
    sign_in(client, lerato, PASSWORD)
    after = client.get("/my/tokens?lang=zu")
    assert "Ithokheni ihoxisiwe: ayisasebenzi." not in after.text  # said once, on the redirect
    assert "Ihoxiswe ngo-" in after.text and f"/my/tokens/{token.id}/revoke" not in after.text


def test_a_refused_form_in_hindi_shows_each_coded_problem_in_hindi_next_to_its_field(
    client, lerato
):
    """Issue 15 §5 / 18 §2: the page renders each problem from its code and parameters in
    the page's language, beside the field it names, without parsing an English string."""
    refused = post_form(
        client,
        "/my/account?lang=hi",
        "/my/account/password",
        data={"current_password": PASSWORD, "new_password": "short"},
    )
    assert refused.status_code == 422
    too_short = render_problem(Problem("new_password", "password.too_short", {"minimum": 10}), "hi")
    assert too_short == "कम से कम 10 अक्षर इस्तेमाल करें"
    assert f'<p class="error" id="e-new_password-1">{too_short}</p>' in refused.text
    assert "use at least" not in refused.text
    wrong = post_form(
        client,
        "/my/account?lang=hi",
        "/my/account/password",
        data={"current_password": "not it at all", "new_password": NEW_PASSWORD},
    )
    in_hindi = render_problem(Problem("current_password", "password.wrong"), "hi")
    assert in_hindi != "the password is wrong"
    assert f'<p class="error" id="e-current_password-1">{in_hindi}</p>' in wrong.text
