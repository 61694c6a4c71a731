"""Pushed withdrawal notices (issue 17 §2): a buyer registers a webhook, and each new
revocation notice is POSTed to it through the outbox, as a compact JWS signed with the
platform's key (the same Ed25519 key and scheme as the feed; the header's ``kid`` names
the key in ``/.well-known/jwks.json``).

- One webhook per organisation; registering again replaces the URL.
- Every attempt is logged (``WebhookDelivery``) and the buyer reads the log. A failed
  attempt (no 2xx answer within ``webhook_timeout_seconds``: a timeout, a refusal, a 500)
  is retried by the outbox with exponential back-off (``domain.jobs.backoff``) up to
  ``job_max_attempts`` times.
- After ``webhook_alert_after_failures`` failures in a row the operators are alerted once
  (``operator:notify`` in the audit log, and a mail to each operator); a success resets
  the count.
- Polling stays: the feed is the record; a push only says "read it now". A webhook that
  never answers changes nothing a buyer owes.

SSRF: outside dev mode a webhook URL must be ``https`` and every address its host
resolves to must be public (not private, loopback, link-local, reserved, multicast or
shared). The check is made when the URL is registered and again before each delivery,
and the delivery connects to the address that was checked (a DNS answer that changes in
between cannot point it inside). In dev mode (``DATATRUST_DEV_MODE``, and tests) plain
``http`` is allowed to the loopback address only, and the address check is skipped.
Redirects are never followed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from datatrust.domain.accounts import Organisation, User
from datatrust.domain.audit import AuditTag
from datatrust.domain.clock import as_utc, utcnow
from datatrust.domain.errors import InvalidInput, NotFound, Problem
from datatrust.domain.ids import id_of
from datatrust.domain.permissions import Actor, Permission, Role
from datatrust.domain.webhooks import Webhook, WebhookDelivery
from datatrust.services.accounts import actor_label, queue_mail
from datatrust.services.jobs import JobContext
from datatrust.services.market.orders import approved_org, refuse
from datatrust.services.ports import MailMessage, UnitOfWork, WebhookTransport

PUSH_JOB = "webhooks.push"
NOTICE_TYPE = "datatrust-revocation-notice"
MAX_URL_LENGTH = 2000
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class WebhookFailed(RuntimeError):
    """Raised by the push job after logging a failed attempt, so the outbox retries it."""


# --- where a webhook may point -------------------------------------------------------------


def _port(parts: Any) -> int:
    try:
        port = parts.port
    except ValueError:
        raise InvalidInput(Problem("url", "webhook.port")) from None
    return port or (443 if parts.scheme == "https" else 80)


def check_url(url: str, *, dev_mode: bool) -> tuple[str, int]:
    """The URL's host and port if its form may be registered; ``InvalidInput`` naming each
    problem otherwise. (Where its host resolves is ``check_addresses``.)"""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput(Problem("url", "required"))
    url = url.strip()
    problems: list[Problem] = []
    if len(url) > MAX_URL_LENGTH:
        problems.append(Problem("url", "too_long", {"maximum": MAX_URL_LENGTH}))
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if not host:
        problems.append(Problem("url", "webhook.no_host"))
    if parts.username is not None or parts.password is not None:
        problems.append(Problem("url", "webhook.credentials"))
    if parts.fragment:
        problems.append(Problem("url", "webhook.fragment"))
    if parts.scheme == "http":
        if not dev_mode:
            problems.append(Problem("url", "webhook.https"))
        elif host not in LOOPBACK_HOSTS:
            problems.append(Problem("url", "webhook.http_dev_only"))
    elif parts.scheme != "https":
        problems.append(Problem("url", "webhook.https"))
    port = _port(parts) if not problems else 0
    if problems:
        raise InvalidInput(problems)
    return host, port


def refused_address(address: str) -> str | None:
    """Why a webhook may not be delivered to ``address`` (a problem code), or None when it
    is public."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "webhook.not_an_address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return "webhook.loopback"
    if ip.is_link_local:
        return "webhook.link_local"
    if ip.is_multicast:
        return "webhook.multicast"
    if not ip.is_global:
        return "webhook.private_address"
    return None


def check_addresses(
    transport: WebhookTransport, host: str, port: int, *, dev_mode: bool
) -> str | None:
    """The address to connect to: the first the host resolves to, once every address it
    resolves to is public. In dev mode, None (connect by name, no check). Raises
    ``InvalidInput`` naming the address refused, or saying the host does not resolve."""
    if dev_mode:
        return None
    try:
        found = [str(ipaddress.ip_address(host.strip("[]")))]  # an address is its own answer
    except ValueError:
        found = []
    try:
        found = found or transport.addresses(host, port)
    except OSError as exc:
        raise InvalidInput(
            Problem("url", "webhook.unresolved", {"host": host, "reason": str(exc)})
        ) from None
    refused = [(a, why) for a in found if (why := refused_address(a))]
    if refused or not found:
        raise InvalidInput(
            [Problem("url", why, {"host": host, "address": a}) for a, why in refused]
            or [Problem("url", "webhook.no_address", {"host": host})]
        )
    return found[0]


# --- the buyer's side ----------------------------------------------------------------------


def active_webhook(uow: UnitOfWork, org_id: int) -> Webhook | None:
    return uow.one(Webhook, org_id=org_id, removed_at=None)


def register_webhook(
    uow: UnitOfWork,
    transport: WebhookTransport,
    actor: Actor,
    url: str,
    *,
    dev_mode: bool,
    now: datetime | None = None,
) -> Webhook:
    """Register (or replace) the caller organisation's webhook. The URL is checked before
    the database is touched (resolving a name is network I/O: no transaction waits on it);
    a refused URL is audited. A suspended buyer may register one: suspension must never
    stop it from hearing of deletions it owes."""
    moment = as_utc(now or utcnow())
    try:
        host, port = check_url(url, dev_mode=dev_mode)
        check_addresses(transport, host, port, dev_mode=dev_mode)
        problem = None
    except InvalidInput as exc:
        problem = exc
    org = approved_org(uow, actor, Permission.WEBHOOK_MANAGE, allow_suspended=True)
    if problem is not None:
        raise refuse(
            uow, actor, AuditTag.WEBHOOK_REFUSE, "org", org.id, problem, url=str(url)[:300]
        )
    url = url.strip()
    old = active_webhook(uow, id_of(org))
    if old is not None:
        old.removed_at = moment
        uow.flush()
    hook = Webhook(org_id=id_of(org), url=url, created_by=actor.user_id or 0, created_at=moment)
    uow.add(hook)
    uow.flush()
    uow.record(
        AuditTag.WEBHOOK_REGISTER,
        actor_label(actor),
        "org",
        org.id,
        webhook_id=hook.id,
        url=url,
        replaced=old.id if old else None,
    )
    uow.commit()
    return hook


def remove_webhook(uow: UnitOfWork, actor: Actor, now: datetime | None = None) -> None:
    """Stop pushing to the caller organisation (polling the feed goes on)."""
    org = approved_org(uow, actor, Permission.WEBHOOK_MANAGE, allow_suspended=True)
    hook = active_webhook(uow, id_of(org))
    if hook is None:
        raise NotFound(Problem(None, "webhook.none"))
    hook.removed_at = as_utc(now or utcnow())
    uow.record(AuditTag.WEBHOOK_REMOVE, actor_label(actor), "org", org.id, webhook_id=hook.id)
    uow.commit()


def webhook_status(uow: UnitOfWork, actor: Actor, limit: int = 100) -> dict[str, Any]:
    """The caller organisation's webhook and its delivery log, newest attempt first."""
    org = approved_org(uow, actor, Permission.WEBHOOK_MANAGE, allow_suspended=True)
    hook = active_webhook(uow, id_of(org))
    deliveries = uow.all(WebhookDelivery, org_id=org.id, order_by="-id", limit=limit)
    return {
        "webhook": None
        if hook is None
        else {
            "id": hook.id,
            "url": hook.url,
            "created_at": as_utc(hook.created_at).isoformat(),
            "failures_in_a_row": hook.failures,
            "operator_alerted": hook.alerted_at is not None,
        },
        "deliveries": [delivery_out(d) for d in deliveries],
    }


def delivery_out(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "seq": d.seq,
        "attempt": d.attempt,
        "at": as_utc(d.at).isoformat(),
        "ok": d.ok,
        "status": d.status,
        "error": d.error,
        "duration_ms": d.duration_ms,
    }


# --- pushing -------------------------------------------------------------------------------


def queue_push(uow: UnitOfWork, org_id: int, notice_id: int) -> None:
    """Push notice ``notice_id`` to ``org_id``'s webhook once this unit of work commits
    (nothing when it has none). Called by ``revocations.notify_holders_of``."""
    hook = active_webhook(uow, org_id)
    if hook is None:
        return
    uow.enqueue(
        PUSH_JOB,
        {"webhook_id": hook.id, "notice_id": notice_id},
        key=f"{PUSH_JOB}:{hook.id}:{notice_id}",
    )


Claims = Callable[[str, datetime], dict[str, Any]]


def push(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext, claims: Claims) -> None:
    """One attempt to push one notice (the ``webhooks.push`` job, run by
    ``revocations.push_notice_job``, which owns the feed). ``claims(url, at)`` gives the
    body's claims for the webhook's URL at the moment of sending. The attempt is logged and
    committed whatever the answer; a failure then raises ``WebhookFailed`` so the outbox
    retries with back-off. A removed or replaced webhook is not pushed to (the notice stays
    in the feed)."""
    settings = ctx.services.settings
    transport: WebhookTransport = ctx.services.webhooks
    hook = uow.get(Webhook, payload["webhook_id"])
    if hook is None or hook.removed_at is not None:
        return
    now = utcnow()
    body = claims(hook.url, now)
    token = ctx.services.signer.sign(body)
    url, org_id, seq = hook.url, hook.org_id, body["notice"]["seq"]
    headers = {
        "Content-Type": "application/jose",
        "User-Agent": "Datatrust-Webhook/1",
        "Datatrust-Notice-Seq": str(seq),
        "Datatrust-Attempt": str(ctx.attempt),
    }
    with uow.reading():  # no transaction is held while the buyer's server answers
        try:
            host, port = check_url(url, dev_mode=settings.dev_mode)
            address = check_addresses(transport, host, port, dev_mode=settings.dev_mode)
            reply = transport.post(
                url,
                token.encode("ascii"),
                headers,
                timeout=settings.webhook_timeout_seconds,
                connect_to=address,
            )
            status, error, duration = reply.status, reply.error, reply.duration_ms
        except InvalidInput as exc:  # the name now resolves somewhere it may not go
            status, error, duration = None, exc.message, 0
    ok = status is not None and 200 <= status < 300
    if status is not None and not ok:
        error = f"answered HTTP {status}"
    hook = uow.get_for_update(Webhook, payload["webhook_id"])
    assert hook is not None
    uow.add(
        WebhookDelivery(
            webhook_id=hook.id or 0,
            org_id=org_id,
            notice_id=payload["notice_id"],
            seq=seq,
            attempt=ctx.attempt,
            at=now,
            ok=ok,
            status=status,
            error=error,
            duration_ms=duration,
        )
    )
    if ok:
        hook.failures, hook.alerted_at = 0, None
        return
    hook.failures += 1
    if hook.failures >= settings.webhook_alert_after_failures and hook.alerted_at is None:
        hook.alerted_at = now
        _alert_operators(uow, hook, error or "no answer")
    uow.commit()  # the failed attempt stays in the log; the retry is the outbox's
    raise WebhookFailed(f"webhook of org {org_id} failed on notice {seq}: {error}")


def _alert_operators(uow: UnitOfWork, hook: Webhook, error: str) -> None:
    org = uow.get(Organisation, hook.org_id)
    name = org.legal_name if org else f"organisation {hook.org_id}"
    uow.record(
        AuditTag.OPERATOR_NOTIFY,
        "system",
        "org",
        hook.org_id,
        about="webhook_failing",
        webhook_id=hook.id,
        failures=hook.failures,
        last_error=error,
    )
    subject = f"Webhook of {name} failed {hook.failures} times in a row"
    body = (
        f"Revocation notices pushed to {hook.url} for {name} failed {hook.failures} "
        f"times in a row; the last error: {error}. The buyer can still read its feed; "
        "deletion deadlines are unchanged. Ask the buyer to fix or remove its webhook."
    )
    for operator in uow.all(User, role=Role.OPERATOR):
        if operator.erased_at is None:
            queue_mail(uow, MailMessage(operator.email, subject, body))
