"""Issue 14 §5, tried as an attacker would: enumerating accounts through sign-up and
sign-in, locking an owner out with wrong passwords, guessing from one address across many
accounts, and a second factor that holds."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pyotp
import pytest

from datatrust.domain.accounts import RecoveryCode, SignInAttempt, SignUpRequest, User
from datatrust.domain.audit import AuditEvent, AuditTag
from datatrust.domain.clock import utcnow
from datatrust.domain.errors import NotAuthenticated, RateLimited
from datatrust.domain.jobs import OutboxJob
from datatrust.services.accounts import accounts
from support import (
    CSRF_FIELD,
    PASSWORD,
    mail_to,
    post_form,
    sign_up_api,
    sign_up_page,
    signed_in,
)


def _age_failures(services, seconds: int) -> None:
    """Move every recorded failure ``seconds`` into the past: the wait, without waiting."""
    with services.uow() as uow:
        for attempt in uow.all(SignInAttempt):
            attempt.at = attempt.at - timedelta(seconds=seconds)
        uow.commit()


# --- enumeration ----------------------------------------------------------------------------


def test_sign_up_answers_a_taken_email_exactly_as_a_new_one(client, services, people):
    taken, new = people["owner"].email, "new-person@example.org"
    answers = {}
    for email in (taken, new):
        client.cookies.clear()
        page = post_form(client, "/sign-up", data={"email": email, "password": PASSWORD})
        api = client.post("/api/auth/sign-up", json={"email": email, "password": PASSWORD})
        answers[email] = (
            page.status_code,
            CSRF_FIELD.sub("", page.text.replace(email, "EMAIL")),
            api.status_code,
            api.text.replace(email, "EMAIL"),
        )
    assert answers[taken] == answers[new]
    assert answers[new][0] == 200 and answers[new][2] == 202
    assert "exists" not in answers[new][1] + answers[new][3]
    # Nothing is created until the mailbox's owner opens the link…
    with services.uow() as uow:
        assert uow.one(User, email=new) is None
    # …and the taken address's owner is told, by mail only, that they have an account.
    told = mail_to(services, taken)[-1].get_content()
    assert "already has an account" in told and "/sign-up/confirm" not in told
    assert "/sign-up/confirm?token=" in mail_to(services, new)[-1].get_content()


def test_a_sign_up_link_creates_the_account_once_and_a_forged_one_nothing(client, services):
    confirmed = sign_up_api(client, services, "zanele@example.org", role="buyer")
    assert confirmed.status_code == 201 and confirmed.json()["user"]["role"] == "buyer"
    client.cookies.clear()
    for token in ("1.deadbeef", "999.00", "not-a-token"):
        forged = client.post("/api/auth/sign-up/confirm", json={"token": token})
        assert forged.status_code == 404
    with services.uow() as uow:
        assert uow.all(SignUpRequest, email="zanele@example.org") == []  # nothing left behind


def test_a_mailed_link_opens_a_button_not_a_session(client, services):
    """A link (followed by a mail scanner, or planted by an attacker) signs nobody in."""
    post_form(client, "/sign-up", data={"email": "mpho@example.org", "password": PASSWORD})
    link = mail_to(services, "mpho@example.org")[-1].get_content().split("http://127.0.0.1:8000")[1]
    opened = client.get(link.split()[0])
    assert opened.status_code == 200 and "dt_session" not in opened.cookies
    assert 'action="/sign-up/confirm"' in opened.text


def test_a_sign_up_page_in_isizulu_and_its_mail_in_hindi(client, services):
    page = post_form(
        client,
        "/sign-up?lang=zu",
        data={"email": "asha@example.org", "password": PASSWORD, "language": "hi"},
    )
    assert "Bheka i-imeyili yakho" in page.text
    mail = mail_to(services, "asha@example.org")[-1]
    assert mail["Subject"] == "अपने Datatrust खाते की पुष्टि करें"


class CountingHasher:
    def __init__(self, inner):  # type: ignore[no-untyped-def]
        self.inner, self.verified = inner, 0

    def hash(self, password: str) -> str:
        return self.inner.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self.verified += 1
        return self.inner.verify(password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self.inner.needs_rehash(password_hash)


def test_sign_in_does_the_same_work_and_says_the_same_for_unknown_and_known_emails(
    client, services, people
):
    """Timing: an unknown email costs one password-hash check, like a wrong password for a
    real account (it cost none before: 10 ms against 237 ms)."""
    hasher = CountingHasher(services.hasher)
    said = {}
    for email in (people["owner"].email, "nobody-here@example.org"):
        with services.uow() as uow, pytest.raises(NotAuthenticated) as refused:
            accounts.sign_in(
                uow,
                hasher,
                email=email,
                password="wrong guess",
                client="ip:x",
                storage=services.storage,
                session_max_age_seconds=3600,
            )
        said[email] = refused.value.message
        assert hasher.verified == 1
        hasher.verified = 0
    assert len(set(said.values())) == 1
    over_http = [
        client.post("/api/auth/sign-in", json={"email": e, "password": "wrong guess"})
        for e in (people["owner"].email, "nobody-here@example.org")
    ]
    assert [r.status_code for r in over_http] == [401, 401]
    assert over_http[0].json() == over_http[1].json()


# --- throttling ----------------------------------------------------------------------------


def test_wrong_passwords_never_lock_the_owner_out(client, services):
    """The attack: ten wrong passwords a minute locked the owner out too. Now the owner's
    own browser (it signed in before) is not slowed at all, and from anywhere else the
    right password works as soon as the stated wait is over."""
    owner = SignedUpOwner(client, services, "owner-locked@example.org")
    attacker = owner.other()
    for _ in range(12):
        wrong = attacker.post(
            "/api/auth/sign-in", json={"email": owner.email, "password": "guess guess"}
        )
    assert wrong.status_code == 429 and int(wrong.headers["retry-after"]) > 0
    # The owner's usual browser (signed out since, its device cookie kept) signs in at once.
    owner.client.cookies.delete("dt_session")
    mine = owner.client.post("/api/auth/sign-in", json={"email": owner.email, "password": PASSWORD})
    assert mine.status_code == 200
    # A new phone waits, told how long, then gets in with the right password.
    phone = owner.other()
    waiting = phone.post("/api/auth/sign-in", json={"email": owner.email, "password": PASSWORD})
    assert waiting.status_code == 429
    wait = int(waiting.headers["retry-after"])
    assert 0 < wait <= services.settings.sign_in_max_delay_seconds
    _age_failures(services, wait)
    in_again = phone.post("/api/auth/sign-in", json={"email": owner.email, "password": PASSWORD})
    assert in_again.status_code == 200


def test_the_delay_grows_with_each_failure_and_stops_at_the_maximum(services, people):
    throttle = accounts.Throttle(free_failures=3, max_delay_seconds=60)
    now = utcnow()
    waits = []
    for n in range(12):
        with services.uow() as uow:
            uow.add(SignInAttempt(email="target@example.org", at=now, client=f"ip:10.0.0.{n}"))
            uow.commit()
        with services.uow() as uow, pytest.raises((RateLimited, NotAuthenticated)) as out:
            accounts.sign_in(
                uow,
                services.hasher,
                email="target@example.org",
                password="x",
                client="ip:192.0.2.1",
                storage=services.storage,
                session_max_age_seconds=3600,
                throttle=throttle,
                now=now,
            )
        waits.append(out.value.details.get("retry_after_seconds", 0) if out.value.details else 0)
        with services.uow() as uow:  # keep only the planted failures
            for a in uow.all(SignInAttempt, client="ip:192.0.2.1"):
                uow.delete(a)
            uow.commit()
    assert waits[:2] == [0, 0]
    assert waits[2:9] == [1, 2, 4, 8, 16, 32, 60]
    assert waits[9:] == [60, 60, 60]


def test_one_address_guessing_across_many_accounts_is_slowed(client, services):
    """No per-address limit before: one client could try a password on every account."""
    free = services.settings.sign_in_client_free_failures
    for n in range(free):
        tried = client.post(
            "/api/auth/sign-in", json={"email": f"user{n}@example.org", "password": PASSWORD}
        )
        assert tried.status_code == 401
    next_one = client.post(
        "/api/auth/sign-in", json={"email": "fresh@example.org", "password": PASSWORD}
    )
    assert next_one.status_code == 429 and "retry-after" in next_one.headers


def test_the_sign_in_page_says_when_to_try_again_in_the_readers_language(client, services):
    for _ in range(services.settings.sign_in_free_failures):
        post_form(client, "/sign-in", data={"email": "who@example.org", "password": "nope nope"})
    page = post_form(
        client, "/sign-in?lang=hi", data={"email": "who@example.org", "password": "nope nope"}
    )
    assert page.status_code == 429 and int(page.headers["retry-after"]) > 0
    assert "थोड़ा रुककर फिर कोशिश करें" in page.text


class SignedUpOwner:
    """An account signed up and signed in on ``client`` (so it has the device cookie), and
    a way to make clients that are someone else's browser."""

    def __init__(self, client, services, email: str) -> None:  # type: ignore[no-untyped-def]
        self.client, self.email = client, email
        assert sign_up_api(client, services, email).status_code == 201

    def other(self):  # type: ignore[no-untyped-def]
        from fastapi.testclient import TestClient

        return TestClient(self.client.app)


# --- TOTP ----------------------------------------------------------------------------------


def test_a_buyer_enrols_in_totp_and_then_needs_a_code_that_works_once(client, services, people):
    buyer = people["buyer"]
    session = signed_in(client, buyer)
    started = client.post("/api/me/totp", json={"password": PASSWORD}, headers=session)
    assert started.status_code == 201
    uri, secret = started.json()["uri"], started.json()["secret"]
    assert uri.startswith("otpauth://totp/") and secret in uri and "Datatrust" in uri
    wrong = client.post(
        "/api/me/totp/enable", json={"code": "000000", "password": PASSWORD}, headers=session
    )
    assert wrong.status_code == 422
    code = pyotp.TOTP(secret).now()
    enabled = client.post(
        "/api/me/totp/enable", json={"code": code, "password": PASSWORD}, headers=session
    )
    assert enabled.status_code == 200 and len(enabled.json()["recovery_codes"]) == 10
    again = client.post("/api/me/totp", json={"password": PASSWORD}, headers=session)
    assert again.status_code == 409  # the secret is never shown again
    client.cookies.clear()  # signed out: the sign-ins below are new ones

    password_only = {"email": buyer.email, "password": PASSWORD}
    asked = client.post("/api/auth/sign-in", json=password_only)
    assert asked.status_code == 401 and asked.json()["error"]["code"] == "totp_required"
    replayed = client.post("/api/auth/sign-in", json={**password_only, "totp_code": code})
    assert replayed.status_code == 401  # the code that enabled it cannot sign in
    with services.uow() as uow:  # the next 30 s step, as a phone would show it
        user = uow.one(User, email=buyer.email)
        user.totp_last_step -= 1
        uow.commit()
    fresh = pyotp.TOTP(secret).now()
    signed = client.post("/api/auth/sign-in", json={**password_only, "totp_code": fresh})
    assert signed.status_code == 200
    client.cookies.clear()  # someone else, who saw the code
    stolen = client.post("/api/auth/sign-in", json={**password_only, "totp_code": fresh})
    assert stolen.status_code == 401  # used once, never again


def test_a_wrong_password_with_totp_on_never_asks_for_the_code(client, services, people):
    """Only the right password leads to the code question; a wrong one says what any
    wrong password says, so TOTP reveals nothing about the password."""
    with services.uow() as uow:
        user = uow.one(User, email=people["operator"].email)
        user.totp_secret, user.totp_enabled_at = pyotp.random_base32(), utcnow()
        uow.commit()
    wrong = client.post(
        "/api/auth/sign-in", json={"email": people["operator"].email, "password": "nope nope"}
    )
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "not_authenticated"


def test_the_sign_in_page_asks_for_the_code_in_the_readers_language(client, services, people):
    with services.uow() as uow:
        user = uow.one(User, email=people["operator"].email)
        user.totp_secret, user.totp_enabled_at = pyotp.random_base32(), utcnow()
        uow.commit()
        secret = user.totp_secret
    data = {"email": people["operator"].email, "password": PASSWORD}
    asked = post_form(client, "/sign-in?lang=zu", data=data)
    assert asked.status_code == 401 and 'name="totp_code"' in asked.text
    assert "Ikhodi evela ku-app yakho yokuqinisekisa" in asked.text
    signed = post_form(
        client,
        "/sign-in",
        data={**data, "totp_code": pyotp.TOTP(secret).now()},
        follow_redirects=False,
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/operator/vetting"


def test_contributors_are_not_offered_totp(client, people):
    session = signed_in(client, people["owner"])
    offered = client.post("/api/me/totp", json={"password": PASSWORD}, headers=session)
    assert offered.status_code == 403
    assert offered.json()["problems"][0]["code"] == "totp.not_offered"


def test_a_page_sign_up_signs_in_after_the_link(client, services):
    done = sign_up_page(client, services, "nomsa@example.org", role="buyer")
    assert done.status_code == 303 and done.headers["location"] == "/buyer/organisation"


def test_an_operator_turns_two_step_sign_in_on_and_off_on_the_account_page(client, people):
    operator = people["operator"]
    headers = signed_in(client, operator)
    password = {"two_step_password": PASSWORD}
    account = client.get("/my/account?lang=hi", headers=headers)
    assert "दो-चरण साइन इन चालू करें" in account.text
    shown = client.post("/my/account/two-step/start", data=password, headers=headers)
    secret = re.search(r"<code>([A-Z2-7]+)</code>", shown.text).group(1)
    assert f"secret={secret}" in shown.text and 'href="otpauth://totp/' in shown.text
    wrong = client.post(
        "/my/account/two-step/enable", data={"code": "123456", **password}, headers=headers
    )
    assert wrong.status_code == 422  # a wrong first code: a new key to add
    secret = re.search(r"<code>([A-Z2-7]+)</code>", wrong.text).group(1)
    on = client.post(
        "/my/account/two-step/enable?lang=zu",
        data={"code": pyotp.TOTP(secret).now(), **password},
        headers=headers,
        follow_redirects=False,
    )
    assert on.status_code == 200 and "Amakhodi akho okubuyisela" in on.text
    assert len(re.findall(r"<code>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</code>", on.text)) == 10
    assert "/my/account/two-step/disable" in client.get("/my/account", headers=headers).text
    assert client.get("/my/account", headers=people["owner"].headers).text.count("two-step") == 0


# --- TOTP secrets sealed, recovery codes --------------------------------------------------


def _enrol(client, persona) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    """Two-step sign-in turned on over the API, signed in with the password (the session
    stays on ``client``): (the secret, the ten recovery codes)."""
    session = signed_in(client, persona)
    password = {"password": PASSWORD}
    secret = client.post("/api/me/totp", json=password, headers=session).json()["secret"]
    enabled = client.post(
        "/api/me/totp/enable",
        json={"code": pyotp.TOTP(secret).now(), **password},
        headers=session,
    )
    assert enabled.status_code == 200, enabled.text
    client.cookies.clear()  # signed out again: the callers after this are their own
    return secret, enabled.json()["recovery_codes"]


def test_a_totp_secret_is_stored_sealed_under_the_persons_key(client, services, people):
    """The attack: a copy of the database handed over every second factor in clear."""
    buyer = people["buyer"]
    secret, _codes = _enrol(client, buyer)
    with services.uow() as uow:
        user = uow.one(User, email=buyer.email)
        stored = user.totp_secret
        assert stored.startswith("dtf1.") and secret not in stored
        assert services.storage.open_text(uow, user.id, stored) == secret
        # Under the person's own key: destroying it (erasure) leaves nothing to open.
        services.storage.destroy_key(uow, user.id)
        assert services.storage.open_text(uow, user.id, stored) == ""


def test_each_recovery_code_signs_in_once_instead_of_an_app_code_and_is_audited(
    client, services, people
):
    buyer = people["buyer"]
    _secret, codes = _enrol(client, buyer)
    assert len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-7]{4}(-[a-z2-7]{4}){3}", c) for c in codes)
    with services.uow() as uow:  # only hashes are kept
        stored = [r.code_hash for r in uow.all(RecoveryCode, user_id=buyer.actor.user_id)]
    assert len(stored) == 10 and not set(stored) & {c.replace("-", "") for c in codes}

    password = {"email": buyer.email, "password": PASSWORD}
    first = client.post("/api/auth/sign-in", json={**password, "totp_code": codes[0]})
    assert first.status_code == 200
    client.cookies.clear()
    again = client.post("/api/auth/sign-in", json={**password, "totp_code": codes[0]})
    assert again.status_code == 401  # spent
    typed = codes[1].replace("-", " ").upper()  # as someone reads it off paper
    second = client.post("/api/auth/sign-in", json={**password, "totp_code": typed})
    assert second.status_code == 200
    client.cookies.clear()
    forged = "abcd-efgh-ijkl-mnop"
    assert (
        client.post("/api/auth/sign-in", json={**password, "totp_code": forged}).status_code == 401
    )
    with services.uow() as uow:
        used = uow.all(AuditEvent, tag=AuditTag.ACCOUNT_RECOVERY_CODE_USE.value, order_by="seq")
    assert [(e.subject_id, e.data["codes_left"]) for e in used] == [
        (str(buyer.actor.user_id), 9),
        (str(buyer.actor.user_id), 8),
    ]


def test_new_recovery_codes_take_an_app_code_and_retire_the_old_ones(client, services, people):
    operator = people["operator"]
    secret, old = _enrol(client, operator)
    stolen_session_only = client.post(
        "/api/me/totp/recovery-codes", json={"code": "123456"}, headers=operator.headers
    )
    assert stolen_session_only.status_code == 422
    with services.uow() as uow:  # the phone's next 30 s step
        user = uow.one(User, email=operator.email)
        user.totp_last_step -= 1
        uow.commit()
    fresh = client.post(
        "/api/me/totp/recovery-codes",
        json={"code": pyotp.TOTP(secret).now()},
        headers=operator.headers,
    )
    assert fresh.status_code == 200
    new = fresh.json()["recovery_codes"]
    assert len(new) == 10 and not set(new) & set(old)
    password = {"email": operator.email, "password": PASSWORD}
    assert (
        client.post("/api/auth/sign-in", json={**password, "totp_code": old[0]}).status_code == 401
    )
    assert (
        client.post("/api/auth/sign-in", json={**password, "totp_code": new[0]}).status_code == 200
    )


def test_turning_two_step_off_takes_a_recovery_code_and_removes_the_rest(client, services, people):
    """Someone who lost the phone turns it off with a recovery code; none is left behind."""
    buyer = people["buyer"]
    _secret, codes = _enrol(client, buyer)
    off = client.post("/api/me/totp/disable", json={"code": codes[3]}, headers=buyer.headers)
    assert off.status_code == 204
    with services.uow() as uow:
        user = uow.one(User, email=buyer.email)
        assert user.totp_secret is None and user.totp_enabled_at is None
        assert uow.all(RecoveryCode, user_id=user.id) == []


# --- sign-up throttled per client address ------------------------------------------------


class HashCounter:
    """The service's hasher, counting the hashes made (each one costs Argon2's time)."""

    def __init__(self, inner):  # type: ignore[no-untyped-def]
        self.inner, self.hashed = inner, 0

    def hash(self, password: str) -> str:
        self.hashed += 1
        return self.inner.hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        return self.inner.verify(password_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        return self.inner.needs_rehash(password_hash)


def _more_sign_ups_from(services, client: str, count: int) -> None:  # type: ignore[no-untyped-def]
    """Record ``count`` more sign-ups from ``client`` now: the first wait after the free
    ones is 1 s, which a loaded machine can spend between two requests; 5 more make it 32."""
    with services.uow() as uow:
        for _ in range(count):
            uow.add(SignInAttempt(email="", at=utcnow(), client=f"sign-up:{client}"))
        uow.commit()


def test_one_address_asking_for_many_sign_ups_waits_before_any_more_hashing(client, services):
    """The attack: sign-up hashes every password with Argon2, so one client posting the
    form in a loop kept the CPUs busy. Now an address gets a few freely, then waits,
    told how long, and a refused request costs no hash at all."""
    from fastapi.testclient import TestClient

    services.hasher = HashCounter(services.hasher)
    free = services.settings.sign_up_client_free_requests
    for n in range(free):
        asked = client.post(
            "/api/auth/sign-up", json={"email": f"bulk{n}@example.org", "password": PASSWORD}
        )
        assert asked.status_code == 202
    hashed = services.hasher.hashed
    _more_sign_ups_from(services, "ip:testclient", 5)  # so the wait outlasts a slow machine
    refused = client.post(
        "/api/auth/sign-up", json={"email": "one-more@example.org", "password": PASSWORD}
    )
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert refused.json()["error"]["code"] == "rate_limited"
    assert services.hasher.hashed == hashed  # refused before the hash
    # A taken email is answered the same (no enumeration through the throttle either).
    taken = client.post(
        "/api/auth/sign-up", json={"email": "bulk0@example.org", "password": PASSWORD}
    )
    assert taken.status_code == 429
    # Someone at another address signs up at once; the throttle is per address.
    elsewhere = TestClient(client.app, client=("198.51.100.7", 40000))
    fine = elsewhere.post(
        "/api/auth/sign-up", json={"email": "neighbour@example.org", "password": PASSWORD}
    )
    assert fine.status_code == 202
    # And once the stated wait is over, the first address may ask again.
    _age_failures(services, int(refused.headers["retry-after"]))
    again = client.post(
        "/api/auth/sign-up", json={"email": "one-more@example.org", "password": PASSWORD}
    )
    assert again.status_code == 202


def test_sign_ups_do_not_slow_that_addresss_sign_ins(client, services, people):
    """Sign-up requests are counted apart from failed sign-ins: the same mechanism, not
    the same budget."""
    for n in range(services.settings.sign_up_client_free_requests + 1):
        client.post("/api/auth/sign-up", json={"email": f"s{n}@example.org", "password": PASSWORD})
    signed = client.post(
        "/api/auth/sign-in", json={"email": people["owner"].email, "password": PASSWORD}
    )
    assert signed.status_code == 200


def test_the_sign_up_page_says_when_to_try_again_in_the_readers_language(client, services):
    for n in range(services.settings.sign_up_client_free_requests):
        post_form(client, "/sign-up", data={"email": f"p{n}@example.org", "password": PASSWORD})
    _more_sign_ups_from(services, "ip:testclient", 5)
    page = post_form(
        client, "/sign-up?lang=hi", data={"email": "late@example.org", "password": PASSWORD}
    )
    assert page.status_code == 429 and int(page.headers["retry-after"]) > 0
    assert "थोड़ा रुककर फिर कोशिश करें" in page.text and "too many" not in page.text


# --- floods from many addresses, and counted tries that pile up ---------------------------


class OverlapProbe:
    """A real hasher that notes how many of its calls run at once; each call holds a
    moment (or until ``release`` is set) so that calls sent together overlap."""

    def __init__(self, inner, hold_s: float = 0.2):  # type: ignore[no-untyped-def]
        self.inner, self.hold_s = inner, hold_s
        self.lock, self.release = threading.Lock(), threading.Event()
        self.running = self.most = self.calls = 0

    def _counted(self, work):  # type: ignore[no-untyped-def]
        with self.lock:
            self.running += 1
            self.calls += 1
            self.most = max(self.most, self.running)
        try:
            self.release.wait(self.hold_s)
            return work()
        finally:
            with self.lock:
                self.running -= 1

    def hash(self, password: str) -> str:
        return self._counted(lambda: self.inner.hash(password))

    def verify(self, password_hash: str, password: str) -> bool:
        return self._counted(lambda: self.inner.verify(password_hash, password))

    def needs_rehash(self, password_hash: str) -> bool:
        return self.inner.needs_rehash(password_hash)


def _check_at_once(hasher, callers: int) -> list[object]:  # type: ignore[no-untyped-def]
    """``callers`` threads check a password at the same moment; what each got."""
    stored = hasher.inner.inner.hash(PASSWORD)
    start = threading.Barrier(callers)

    def one() -> object:
        start.wait()
        try:
            return hasher.verify(stored, "a wrong guess")
        except RateLimited as exc:
            return exc

    with ThreadPoolExecutor(callers) as pool:
        return list(pool.map(lambda _: one(), range(callers)))


def test_password_checks_from_many_addresses_at_once_run_at_most_the_cap_at_a_time():
    """The attack: per-address throttles do not stop a flood spread over many addresses,
    and every try costs an Argon2 hash (a core and 64 MiB): enough of them at once took
    every CPU. Now at most the cap run at once; the rest wait their turn."""
    from datatrust.adapters.passwords import Argon2Hasher, CappedHasher

    argon2 = Argon2Hasher(time_cost=1, memory_cost=1024)
    capped = CappedHasher(OverlapProbe(argon2), max_concurrent=2, wait_seconds=60)
    answers = _check_at_once(capped, 12)
    assert answers == [False] * 12 and capped.inner.calls == 12
    assert capped.inner.most == 2
    # The same flood through a cap of 12: the probe does see the calls overlap, so the
    # limit above is the cap's doing, not the machine's.
    loose = CappedHasher(OverlapProbe(argon2), max_concurrent=12, wait_seconds=60)
    _check_at_once(loose, 12)
    assert loose.inner.most > 2


def test_a_sign_in_that_finds_no_free_hashing_slot_is_told_to_retry_and_not_counted(
    client, services, people
):
    """Waiting for a slot is bounded: past ``argon2_wait_seconds`` a try is refused with
    429 and Retry-After, and it does not count against the account (the flood must not
    slow its owner's next real try)."""
    from datatrust.adapters.passwords import CappedHasher

    probe = OverlapProbe(services.hasher, hold_s=30)
    services.hasher = CappedHasher(probe, max_concurrent=1, wait_seconds=0.05)
    owner = people["owner"]
    with ThreadPoolExecutor(1) as pool:
        busy = pool.submit(services.hasher.verify, "x", "y")  # holds the only slot
        while not probe.running:
            time.sleep(0.01)
        refused = client.post(
            "/api/auth/sign-in", json={"email": owner.email, "password": "a wrong guess"}
        )
        probe.release.set()
        busy.result()
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
    assert refused.json()["error"]["code"] == "rate_limited"
    with services.uow() as uow:
        assert uow.all(SignInAttempt, email=owner.email) == []
    signed = client.post("/api/auth/sign-in", json={"email": owner.email, "password": PASSWORD})
    assert signed.status_code == 200


def test_counted_tries_older_than_any_reader_looks_are_forgotten_as_new_ones_come(client, services):
    """Before, every failed sign-in and every sign-up stayed in ``sign_in_attempts`` for
    ever, and each throttle check read an address's whole history. Nothing reads a row
    older than ``TRIES_KEPT`` (the throttles look 15 minutes back, the reset mails an
    hour), so counting a new try drops those; the reset mails' hour is still counted."""
    kept = accounts.TRIES_KEPT
    with services.uow() as uow:
        for n in range(50):
            old = utcnow() - kept - timedelta(minutes=n + 1)
            uow.add(SignInAttempt(email=f"gone{n}@example.org", at=old, client=f"ip:10.0.0.{n}"))
        half_hour = utcnow() - timedelta(minutes=30)  # past the throttle, within the hour
        uow.add(SignInAttempt(email="", at=half_hour, client="password-reset:abc"))
        uow.add(SignInAttempt(email="recent@example.org", at=utcnow(), client="ip:10.1.1.1"))
        uow.commit()
    tried = client.post(
        "/api/auth/sign-in", json={"email": "someone@example.org", "password": PASSWORD}
    )
    assert tried.status_code == 401
    with services.uow() as uow:
        left = sorted((a.email, a.client) for a in uow.all(SignInAttempt))
    assert left == [
        ("", "password-reset:abc"),
        ("recent@example.org", "ip:10.1.1.1"),
        ("someone@example.org", "ip:testclient"),
    ]
    # A sign-up is counted the same way and forgets the same way.
    _age_failures(services, int(kept.total_seconds()) + 1)
    client.post("/api/auth/sign-up", json={"email": "later@example.org", "password": PASSWORD})
    with services.uow() as uow:
        assert [a.client for a in uow.all(SignInAttempt)] == ["sign-up:ip:testclient"]


def test_reset_mails_stay_capped_per_hour_while_failed_sign_ins_forget_old_tries(client, services):
    """Forgetting old tries must not reopen the reset mails' hourly cap: a reset asked
    for 20 minutes ago still counts after a failed sign-in elsewhere prunes the table."""
    from datatrust.domain.accounts import User as Account

    with services.uow() as uow:
        uow.add(
            Account(email="capped@example.org", password_hash="x", role=accounts.Role.CONTRIBUTOR)
        )
        uow.commit()
    for _ in range(accounts.PASSWORD_RESET_MAILS_PER_HOUR):
        with services.uow() as uow:
            accounts.request_password_reset(
                uow, email="capped@example.org", storage=services.storage
            )
    _age_failures(services, 20 * 60)
    client.post("/api/auth/sign-in", json={"email": "x@example.org", "password": PASSWORD})
    with services.uow() as uow:
        accounts.request_password_reset(uow, email="capped@example.org", storage=services.storage)
        jobs = uow.all(OutboxJob, job=accounts.PASSWORD_RESET_JOB)
    assert len(jobs) == accounts.PASSWORD_RESET_MAILS_PER_HOUR


# --- the owner hears of a recovery code used or two-step turned off -------------------------


def test_the_owner_is_mailed_in_their_language_when_a_recovery_code_signs_in(
    client, services, people
):
    """The attack: someone with the password and one stolen recovery code signed in, and
    the owner never knew. Now the owner gets a mail, in their language."""
    buyer = people["buyer"]
    with services.uow() as uow:
        uow.one(User, email=buyer.email).language = "hi"
        uow.commit()
    _secret, codes = _enrol(client, buyer)
    before = len(mail_to(services, buyer.email))
    signed = client.post(
        "/api/auth/sign-in",
        json={"email": buyer.email, "password": PASSWORD, "totp_code": codes[0]},
    )
    assert signed.status_code == 200
    told = mail_to(services, buyer.email)[before:]
    assert len(told) == 1
    assert told[0]["Subject"] == "आपके Datatrust खाते पर एक रिकवरी कोड इस्तेमाल हुआ"
    assert "9" in told[0].get_content()  # how many are left
    # A wrong code tells nobody anything.
    client.cookies.clear()
    client.post(
        "/api/auth/sign-in",
        json={"email": buyer.email, "password": PASSWORD, "totp_code": "abcd-efgh-ijkl-mnop"},
    )
    assert len(mail_to(services, buyer.email)) == before + 1


def test_the_owner_is_mailed_when_two_step_sign_in_is_turned_off(client, services, people):
    """The attack: a stolen session and one recovery code turned two-step off silently."""
    operator = people["operator"]
    with services.uow() as uow:
        uow.one(User, email=operator.email).language = "zu"
        uow.commit()
    _secret, codes = _enrol(client, operator)
    before = len(mail_to(services, operator.email))
    off = client.post("/api/me/totp/disable", json={"code": codes[0]}, headers=operator.headers)
    assert off.status_code == 204
    subjects = [m["Subject"] for m in mail_to(services, operator.email)[before:]]
    assert sorted(subjects) == sorted(
        [
            "Kusetshenziswe ikhodi yokubuyisela ku-akhawunti yakho ye-Datatrust",
            "Ukungena ngezinyathelo ezimbili kuvaliwe ku-akhawunti yakho ye-Datatrust",
        ]
    )
    with services.uow() as uow:  # the outbox kept ids, not the address
        rows = [j.payload for j in uow.all(OutboxJob, job=accounts.SECURITY_NOTICE_JOB)]
    assert rows and all(operator.email not in str(p) for p in rows)
