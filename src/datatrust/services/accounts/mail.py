"""Mail through the outbox: a message queued in a unit of work is sent only after that
unit commits, and retried with backoff while the mail server refuses it."""

from __future__ import annotations

from typing import Any

from datatrust.services.jobs import JobContext, job
from datatrust.services.ports import MailMessage, UnitOfWork

SEND_JOB = "mail.send"


def queue_mail(uow: UnitOfWork, message: MailMessage, *, key: str | None = None) -> None:
    """Send ``message`` once ``uow`` commits (``key``: at most one such job). Its text is
    kept in the outbox row until sent, then forgotten: put no secret in it (a
    message carrying a one-time link should be rendered by its own job from ids)."""
    uow.enqueue(
        SEND_JOB, {"to": message.to, "subject": message.subject, "body": message.body}, key=key
    )


# Once sent, the row forgets the address and the text: an erasure later finds nothing of
# the person in mail already sent (and the outbox holds no archive of everyone's mail).
@job(SEND_JOB, forget_when_done=True)
def send_job(uow: UnitOfWork, payload: dict[str, Any], ctx: JobContext) -> None:
    ctx.services.mailer.send(MailMessage(payload["to"], payload["subject"], payload["body"]))
