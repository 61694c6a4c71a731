"""Mail queued in a unit of work goes out only after it commits."""

from __future__ import annotations

from datatrust.services.accounts.mail import queue_mail
from datatrust.services.ports import MailMessage


def test_queued_mail_is_sent_after_commit_and_not_after_rollback(services):
    with services.uow() as uow:
        queue_mail(uow, MailMessage("gone@example.org", "never", "rolled back"))
        uow.rollback()
    with services.uow() as uow:
        queue_mail(uow, MailMessage("ana@example.org", "Hello", "after commit"))
        assert services.mailer.sent() == []
        uow.commit()
    assert [(m["To"], m.get_content().strip()) for m in services.mailer.sent()] == [
        ("ana@example.org", "after commit")
    ]
