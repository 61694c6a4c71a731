"""Pushed withdrawal notices (issue 17 §2): a buyer registers a webhook; each new notice
is POSTed to it through the outbox as a JWS signed with the feed's key; failures (a
timeout, a 500) are logged where the buyer sees them and retried with back-off, and after
N failures in a row the operators are alerted. Against a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import http.server
import threading
import time
from datetime import timedelta

import pytest
from test_feed_protocol import make_holder

from datatrust.client import FeedError, verify_notice
from datatrust.domain.audit import AuditEvent
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.errors import InvalidInput
from datatrust.domain.jobs import JobState, OutboxJob
from datatrust.domain.webhooks import WebhookDelivery
from datatrust.services.market import webhooks
from datatrust.services.ports import WebhookReply


class Receiver:
    """A tiny HTTP server in a thread. ``mode``: "ok" answers 204, "error" answers 500,
    "slow" answers after ``delay`` seconds (past the webhook timeout)."""

    def __init__(self, mode: str = "ok", delay: float = 1.5) -> None:
        self.mode, self.delay = mode, delay
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.bodies.append(body)
                receiver.headers.append(dict(self.headers))
                if receiver.mode == "slow":
                    time.sleep(receiver.delay)
                self.send_response(500 if receiver.mode == "error" else 204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/datatrust/notices"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(mode: str = "ok") -> Receiver:
        made.append(Receiver(mode))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def holder(client, services, people):
    """A buyer holding two items (a delivered snapshot), and the two items."""
    return make_holder(client, services, people)


def _register(client, persona, url: str):
    return client.put("/api/buyers/webhook", headers=persona.headers, json={"url": url})


def _push_jobs(services) -> list[OutboxJob]:
    with services.uow() as uow:
        return uow.all(OutboxJob, job=webhooks.PUSH_JOB, order_by="id")


def _retry_now(services, job_id: int) -> str:
    """Run a job whose back-off has not passed yet, as the worker will once it has."""
    with services.uow() as uow:
        row = uow.get(OutboxJob, job_id)
        row.run_after = utcnow() - timedelta(seconds=1)
        uow.commit()
    return services.run_job(job_id)


def _wait_after(services, job: OutboxJob) -> timedelta:
    """How long after its latest attempt began the job is next due."""
    with services.uow() as uow:
        [last] = uow.all(WebhookDelivery, order_by="-id", limit=1)
    return as_utc(job.run_after) - as_utc(last.at)


def test_a_withdrawal_is_pushed_to_the_buyers_webhook_signed_with_the_feeds_key(
    client, services, people, holder, receiver
):
    trainer, walk, _ = holder
    hook = receiver("ok")
    registered = _register(client, trainer, hook.url)
    assert registered.status_code == 200, registered.text
    assert registered.json()["webhook"]["url"] == hook.url

    gone = client.delete(f"/api/items/{walk.id}/consent", headers=people["owner"].headers)
    assert gone.status_code == 200, gone.text

    assert len(hook.bodies) == 1
    assert hook.headers[0]["Content-Type"] == "application/jose"
    jwks = client.get("/.well-known/jwks.json").json()
    claims = verify_notice(hook.bodies[0].decode(), jwks, audience=hook.url)
    assert claims["notice"]["seq"] == 1
    assert claims["notice"]["content_hashes"] == [walk.deidentified_sha256]
    assert claims["last_seq"] == 1 and claims["sub"] == f"org:{trainer.actor.org_id}"
    # The push says the same as the feed: polling stays, and agrees.
    feed = client.get("/api/buyers/feed", headers=trainer.headers).json()
    assert feed["claims"]["revoked"][0]["content_sha256"] == walk.deidentified_sha256

    log = client.get("/api/buyers/webhook", headers=trainer.headers).json()
    assert [(d["seq"], d["attempt"], d["ok"], d["status"]) for d in log["deliveries"]] == [
        (1, 1, True, 204)
    ]
    assert [j.state for j in _push_jobs(services)] == [JobState.DONE]


def test_the_client_refuses_a_pushed_notice_for_another_endpoint_or_with_a_bad_signature(
    client, services, people, holder, receiver
):
    trainer, walk, _ = holder
    hook = receiver("ok")
    _register(client, trainer, hook.url)
    client.delete(f"/api/items/{walk.id}/consent", headers=people["owner"].headers)
    token = hook.bodies[0].decode()
    jwks = client.get("/.well-known/jwks.json").json()
    with pytest.raises(FeedError) as refused:
        verify_notice(token, jwks, audience="https://elsewhere.example/hook")
    assert refused.value.reason == "wrong_audience"
    head, body, sig = token.split(".")
    with pytest.raises(FeedError) as refused:
        verify_notice(f"{head}.{body}.{sig[::-1]}", jwks, audience=hook.url)
    assert refused.value.reason == "bad_signature"
    with pytest.raises(FeedError) as refused:  # a feed is not a notice
        verify_notice(client.get("/api/buyers/feed", headers=trainer.headers).json()["feed"], jwks)
    assert refused.value.reason == "malformed"


def test_a_webhook_that_answers_500_is_retried_with_back_off_and_then_the_operator_alerted(
    client, services, people, holder, receiver
):
    services.settings.webhook_alert_after_failures = 3
    trainer, walk, _ = holder
    hook = receiver("error")
    _register(client, trainer, hook.url)
    client.delete(f"/api/items/{walk.id}/consent", headers=people["owner"].headers)

    [job] = _push_jobs(services)
    assert job.state == JobState.PENDING and job.attempts == 1
    assert "HTTP 500" in job.last_error
    # Exponential back-off: the retry waits 2 s after the first attempt, 4 s after the
    # second (lower bounds; the upper ones leave room for a loaded machine).
    assert timedelta(seconds=2) <= _wait_after(services, job) < timedelta(seconds=30)
    assert _retry_now(services, job.id) == "retry"
    [job] = _push_jobs(services)
    assert timedelta(seconds=4) <= _wait_after(services, job) < timedelta(seconds=30)
    with services.uow() as uow:
        alerts = uow.all(AuditEvent, tag="operator:notify")
    assert alerts == []  # two failures: not yet
    # Buyers' members are told by mail (vetting, deletion asked, issue 18 §6): not this.
    operator_mail = [m for m in services.mailer.sent() if m["To"] == people["operator"].email]
    assert operator_mail == []

    assert _retry_now(services, job.id) == "retry"
    with services.uow() as uow:
        alerts = [e for e in uow.all(AuditEvent, tag="operator:notify")]
    assert [(a.data["about"], a.data["failures"]) for a in alerts] == [("webhook_failing", 3)]
    # Buyers' members get their own notices by mail (issue 18 §6): the operator's only.
    mails = [m for m in services.mailer.sent() if m["To"] == people["operator"].email]
    assert len(mails) == 1
    assert "failed 3 times in a row" in mails[0]["Subject"]
    assert "HTTP 500" in mails[0].get_content()

    # A fourth failure does not alert again; the buyer sees every attempt.
    assert _retry_now(services, job.id) == "retry"
    with services.uow() as uow:
        assert len(uow.all(AuditEvent, tag="operator:notify")) == 1
    log = client.get("/api/buyers/webhook", headers=trainer.headers).json()
    assert [(d["attempt"], d["ok"], d["status"]) for d in log["deliveries"]] == [
        (4, False, 500),
        (3, False, 500),
        (2, False, 500),
        (1, False, 500),
    ]
    assert log["webhook"]["failures_in_a_row"] == 4 and log["webhook"]["operator_alerted"]
    assert len(hook.bodies) == 4  # the receiver really was called each time

    # The buyer fixes its endpoint: the next retry succeeds and the count resets.
    hook.mode = "ok"
    assert _retry_now(services, job.id) == "done"
    log = client.get("/api/buyers/webhook", headers=trainer.headers).json()
    assert log["deliveries"][0]["ok"] and log["webhook"]["failures_in_a_row"] == 0
    # Nothing already recorded was lost: the notice and its deadline stand.
    feed = client.get("/api/buyers/feed", headers=trainer.headers).json()
    assert feed["claims"]["last_seq"] == 1


def test_a_webhook_that_times_out_is_logged_as_no_answer_and_retried(
    client, services, people, holder, receiver
):
    services.settings.webhook_timeout_seconds = 0.3
    trainer, walk, _ = holder
    hook = receiver("slow")
    _register(client, trainer, hook.url)
    client.delete(f"/api/items/{walk.id}/consent", headers=people["owner"].headers)
    [job] = _push_jobs(services)
    assert job.state == JobState.PENDING and job.attempts == 1
    log = client.get("/api/buyers/webhook", headers=trainer.headers).json()
    [attempt] = log["deliveries"]
    assert attempt["ok"] is False and attempt["status"] is None
    assert attempt["error"] == "no answer within 0.3 s"
    assert len(hook.bodies) == 1


def test_after_the_last_attempt_the_push_gives_up_and_the_feed_still_has_the_notice(
    client, services, people, holder, receiver
):
    services.settings.job_max_attempts = 2
    trainer, walk, _ = holder
    hook = receiver("error")
    _register(client, trainer, hook.url)
    client.delete(f"/api/items/{walk.id}/consent", headers=people["owner"].headers)
    [job] = _push_jobs(services)
    assert _retry_now(services, job.id) == "failed"
    [job] = _push_jobs(services)
    assert job.state == JobState.FAILED
    feed = client.get("/api/buyers/feed", headers=trainer.headers).json()
    assert feed["claims"]["revoked"][0]["content_sha256"] == walk.deidentified_sha256


def test_a_removed_webhook_is_not_pushed_to(client, services, people, holder, receiver):
    trainer, walk, _ = holder
    hook = receiver("ok")
    _register(client, trainer, hook.url)
    removed = client.delete("/api/buyers/webhook", headers=trainer.headers)
    assert removed.status_code == 200 and removed.json()["webhook"] is None
    client.delete(f"/api/items/{walk.id}/consent", headers=people["owner"].headers)
    assert hook.bodies == [] and _push_jobs(services) == []
    again = client.delete("/api/buyers/webhook", headers=trainer.headers)
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://hooks.example.com/x", "plain http is allowed only to 127.0.0.1"),
        ("ftp://127.0.0.1/x", "must use https"),
        ("https://user:pw@hooks.example.com/x", "credentials in the URL"),
        ("https:///nohost", "names no host"),
        ("https://hooks.example.com/x#frag", "fragment"),
    ],
)
def test_a_webhook_url_of_the_wrong_form_is_refused_with_its_reason(
    client, services, people, holder, url, problem
):
    trainer, _, _ = holder
    refused = _register(client, trainer, url)
    assert refused.status_code == 422
    assert any(problem in p for p in refused.json()["error"]["details"]["problems"]), refused.text
    assert client.get("/api/buyers/webhook", headers=trainer.headers).json()["webhook"] is None
    with services.uow() as uow:
        assert uow.all(AuditEvent, tag="webhook:refuse")


class Resolver:
    """A transport whose name resolution is given (the production rules are about where a
    name points; no test may depend on the machine's DNS)."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers

    def addresses(self, host: str, port: int) -> list[str]:
        if host not in self.answers:
            raise OSError(f"no such host {host}")
        return self.answers[host]

    def post(self, url, body, headers, *, timeout, connect_to=None):  # pragma: no cover
        return WebhookReply(204, None, 1)


def test_in_production_a_webhook_must_be_https_and_resolve_only_to_public_addresses():
    transport = Resolver(
        {
            "hooks.example.com": ["93.184.216.34"],
            "inside.example.com": ["10.0.0.7"],
            "metadata.example.com": ["169.254.169.254"],
            "mixed.example.com": ["93.184.216.34", "192.168.1.1"],
            "mapped.example.com": ["::ffff:127.0.0.1"],
            "cgnat.example.com": ["100.64.0.1"],
        }
    )

    def check(url: str) -> str | None:
        host, port = webhooks.check_url(url, dev_mode=False)
        return webhooks.check_addresses(transport, host, port, dev_mode=False)

    assert check("https://hooks.example.com/notices") == "93.184.216.34"
    for url, problem, code in [
        ("http://127.0.0.1:9000/x", "must use https", "webhook.https"),
        ("http://hooks.example.com/x", "must use https", "webhook.https"),
        ("https://127.0.0.1/x", "loopback", "webhook.loopback"),
        ("https://inside.example.com/x", "private or reserved", "webhook.private_address"),
        ("https://metadata.example.com/x", "link-local", "webhook.link_local"),
        ("https://mixed.example.com/x", "192.168.1.1, a private", "webhook.private_address"),
        ("https://mapped.example.com/x", "loopback", "webhook.loopback"),
        ("https://cgnat.example.com/x", "private or reserved", "webhook.private_address"),
        ("https://nowhere.example.com/x", "does not resolve", "webhook.unresolved"),
    ]:
        with pytest.raises(InvalidInput) as refused:
            check(url)
        said = " ".join([refused.value.message, *refused.value.details["problems"]])
        assert problem in said, (url, said)
        assert code in refused.value.codes, (url, refused.value.codes)


def test_a_webhook_page_lets_the_buyer_register_and_read_the_delivery_log(
    client, services, people, holder, receiver
):
    trainer, walk, _ = holder
    hook = receiver("ok")
    page = client.get("/buyer/webhook", headers=trainer.headers)
    assert page.status_code == 200 and "No webhook" in page.text
    sent = client.post("/buyer/webhook", headers=trainer.headers, data={"url": "ftp://x"})
    assert sent.status_code == 422 and "must use https" in sent.text
    assert 'value="ftp://x"' in sent.text  # the input is kept
    sent = client.post(
        "/buyer/webhook", headers=trainer.headers, data={"url": hook.url}, follow_redirects=False
    )
    assert sent.status_code == 303
    client.delete(f"/api/items/{walk.id}/consent", headers=people["owner"].headers)
    page = client.get("/buyer/webhook", headers=trainer.headers)
    assert hook.url in page.text and "Delivered" in page.text
    hindi = client.get("/buyer/webhook?lang=hi", headers=trainer.headers)
    assert "Delivered" not in hindi.text
