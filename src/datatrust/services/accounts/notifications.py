"""Telling people what happened to what concerns them: the in-app inbox and mail.

``notify`` is called by the service that made the change, inside its unit of work: the
inbox row is written in the same transaction as the change, and the mail, unless the
person turned that kind off, goes through the outbox after commit (``MAIL_JOB``), written
in the person's language when it is sent. ``describe`` is the one place a notification
becomes words, for the inbox page and the mail alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from babel.dates import format_date

from datatrust.domain.accounts import Membership, User
from datatrust.domain.clock import utcnow
from datatrust.domain.errors import InvalidInput, Problem
from datatrust.domain.money import Money
from datatrust.domain.notifications import (
    BUYER_KINDS,
    CONTRIBUTOR_KINDS,
    NoticeKind,
    Notification,
    NotificationSetting,
)
from datatrust.domain.permissions import Actor, Permission, Role, authorize
from datatrust.i18n import format_money, translator
from datatrust.services.jobs import JobContext, job
from datatrust.services.ports import MailMessage, UnitOfWork

MAIL_JOB = "notifications.mail"
PAGE_SIZE = 20


def notify(uow: UnitOfWork, user_id: int, kind: NoticeKind, **params: Any) -> Notification:
    """Put a notification in ``user_id``'s inbox and, unless they turned ``kind``'s mail
    off, queue its mail. Part of the caller's transaction; does not commit. ``params``
    must be JSON: ids, titles, dates as ISO strings, money as ``money_params``."""
    note = Notification(user_id=user_id, kind=kind, params=params, created_at=utcnow())
    uow.add(note)
    uow.flush()
    setting = uow.one(NotificationSetting, user_id=user_id, kind=kind)
    if setting is None or setting.by_mail:
        uow.enqueue(MAIL_JOB, {"notification": note.id}, key=f"{MAIL_JOB}:{note.id}")
    return note


def notify_members(uow: UnitOfWork, org_id: int, kind: NoticeKind, **params: Any) -> None:
    """``notify`` every member of a buyer organisation."""
    for member in uow.all(Membership, org_id=org_id, order_by="id"):
        notify(uow, member.user_id, kind, **params)


def money_params(amount: Money) -> dict[str, Any]:
    return {"amount_minor": amount.amount_minor, "currency": amount.currency}


@dataclass(frozen=True)
class Described:
    """A notification in words: a short title, a sentence, and the page that says more."""

    title: str
    body: str
    link: str


def describe(note: Notification, lang: str) -> Described:
    """``note`` in ``lang``, with amounts and dates as its readers write them."""
    _ = translator(lang).gettext
    p = note.params

    def amount() -> str:
        return format_money(Money(int(p["amount_minor"]), p["currency"]), lang)

    def bonus() -> str:
        """The coverage bonus paid with an accepted item, as its own figure (the ledger's)."""
        if not p.get("bonus_minor"):
            return ""
        extra = format_money(Money(int(p["bonus_minor"]), p["currency"]), lang)
        return " " + _("A coverage bonus of %(amount)s is paid too.") % {"amount": extra}

    def day(key: str) -> str:
        return format_date(datetime.fromisoformat(p[key]), format="long", locale=lang)

    kind = NoticeKind(note.kind)
    if kind is NoticeKind.ITEM_ACCEPTED:
        return Described(
            _("Your recording was accepted"),
            _(
                "Your recording for the task “%(task)s” was accepted: "
                "%(amount)s is paid to your earnings."
            )
            % {"task": p["task"], "amount": amount()}
            + bonus(),
            f"/my/items/{p['item_id']}",
        )
    if kind is NoticeKind.ITEM_REJECTED:
        return Described(
            _("Your recording was not accepted"),
            _("Your recording for the task “%(task)s” was not accepted. The item's page says why.")
            % {"task": p["task"]},
            f"/my/items/{p['item_id']}",
        )
    if kind is NoticeKind.PAYOUT_PAID:
        return Described(
            _("Your payout was sent"),
            _("Your payout of %(amount)s was sent.") % {"amount": amount()},
            "/my/earnings",
        )
    if kind is NoticeKind.PAYOUT_FAILED:
        return Described(
            _("Your payout could not be sent"),
            _("Your payout of %(amount)s could not be sent; the money is back in your balance.")
            % {"amount": amount()},
            "/my/earnings",
        )
    if kind is NoticeKind.VETTING_DECIDED:
        titles = {
            "approved": _("Your organisation was approved"),
            "rejected": _("Your organisation was not approved"),
            "suspended": _("Your organisation was suspended"),
        }
        bodies = {
            "approved": _("%(org)s was approved: you can now declare uses and buy data."),
            "rejected": _("%(org)s was not approved. The operator's reason: %(reason)s"),
            "suspended": _("%(org)s was suspended. The operator's reason: %(reason)s"),
        }
        words = {"org": p["org"], "reason": p.get("reason", "")}
        return Described(titles[p["status"]], bodies[p["status"]] % words, "/buyer/organisation")
    if kind is NoticeKind.DELETION_REQUESTED:
        return Described(
            _("Delete a withdrawn item"),
            _(
                "A contributor withdrew an item your organisation holds. Delete every copy "
                "by %(deadline)s and attest the deletion."
            )
            % {"deadline": day("deadline")},
            "/buyer/feed",
        )
    return Described(  # DELETION_ATTESTED
        _("A buyer deleted your item"),
        _("%(org)s attested on %(date)s that it deleted your withdrawn item.")
        % {"org": p["org"], "date": day("at")},
        f"/my/items/{p['item_id']}/passport",
    )


@dataclass(frozen=True)
class Inbox:
    notes: list[Notification]
    unread: int
    page: int
    pages: int


def inbox(uow: UnitOfWork, actor: Actor, page: int = 1) -> Inbox:
    """The caller's notifications, newest first, ``PAGE_SIZE`` a page (``page`` from 1;
    past the last, the last)."""
    authorize(actor, Permission.ACCOUNT_READ)
    total = uow.count(Notification, user_id=actor.user_id)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    everything = uow.all(
        Notification, order_by="-id", limit=page * PAGE_SIZE, user_id=actor.user_id
    )
    return Inbox(everything[(page - 1) * PAGE_SIZE :], unread_count(uow, actor), page, pages)


def unread_count(uow: UnitOfWork, actor: Actor) -> int:
    if actor.user_id is None:
        return 0
    return uow.count(Notification, user_id=actor.user_id, read_at=None)


def mark_all_read(uow: UnitOfWork, actor: Actor) -> int:
    """Mark every unread notification of the caller read; returns how many."""
    authorize(actor, Permission.ACCOUNT_UPDATE)
    now = utcnow()
    unread = uow.all(Notification, user_id=actor.user_id, read_at=None)
    for note in unread:
        note.read_at = now
    uow.commit()
    return len(unread)


def kinds_for(role: Role) -> tuple[NoticeKind, ...]:
    """The kinds a person of ``role`` can receive (their preferences)."""
    if role is Role.CONTRIBUTOR:
        return CONTRIBUTOR_KINDS
    if role is Role.BUYER:
        return BUYER_KINDS
    return ()


def mail_preferences(uow: UnitOfWork, actor: Actor) -> dict[NoticeKind, bool]:
    """For each kind the caller can receive: whether it is mailed (the inbox always has it)."""
    authorize(actor, Permission.ACCOUNT_READ)
    chosen = {s.kind: s.by_mail for s in uow.all(NotificationSetting, user_id=actor.user_id)}
    return {kind: chosen.get(kind, True) for kind in kinds_for(actor.role)}


def set_mail_preferences(uow: UnitOfWork, actor: Actor, mailed: set[str]) -> None:
    """Mail the kinds in ``mailed`` and no other of the caller's kinds."""
    authorize(actor, Permission.ACCOUNT_UPDATE)
    offered = kinds_for(actor.role)
    unknown = mailed - {k.value for k in offered}
    if unknown:
        raise InvalidInput(Problem("mail", "choose_from_list"))
    for kind in offered:
        setting = uow.one(NotificationSetting, user_id=actor.user_id, kind=kind)
        if setting is None:
            setting = NotificationSetting(user_id=actor.user_id or 0, kind=kind, by_mail=True)
            uow.add(setting)
        setting.by_mail = kind.value in mailed
    uow.commit()


def notification_mail(note: Notification, user: User, base_url: str) -> MailMessage:
    """The mail of ``note``, in the person's language, with a link to say more."""
    said = describe(note, user.language)
    _ = translator(user.language).gettext
    body = (
        said.body
        + "\n\n"
        + _("More: %(link)s") % {"link": f"{base_url}{said.link}"}
        + "\n\n"
        + _("You can choose which notices you get by email on your account page: %(link)s")
        % {"link": f"{base_url}/my/account#h-notices"}
    )
    return MailMessage(user.email, said.title, body)


@job(MAIL_JOB)
def send_notification_mail(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    note = uow.get(Notification, payload["notification"])
    user = uow.get(User, note.user_id) if note is not None else None
    if note is None or user is None or user.erased_at is not None:
        return  # erased meanwhile: nobody to tell
    setting = uow.one(NotificationSetting, user_id=user.id, kind=note.kind)
    if setting is not None and not setting.by_mail:
        return  # turned off since it was queued
    base_url = ctx.services.settings.base_url.rstrip("/")
    ctx.services.mailer.send(notification_mail(note, user, base_url))
