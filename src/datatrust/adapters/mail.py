"""Mail adapters: SMTP for production, a folder of ``.eml`` files for development and tests.

The folder is the outbox a developer opens (every message is a complete RFC 5322 file any
mail program reads) and what tests read links from; it is chosen by
``DATATRUST_MAIL_BACKEND=file`` (the default) and kept under ``DATATRUST_MAIL_DIR``.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import time
import uuid
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from email.utils import formatdate, make_msgid
from pathlib import Path

from datatrust.config import Settings
from datatrust.services.ports import Mailer, MailMessage

# Headers unfolded up to SMTP's line limit: CPython's folding of a long non-ASCII subject
# into several encoded words drops the space between two of them ("की पुष्टि" came back
# as "कीपुष्टि"); one longer encoded word is read correctly by mail programs.
POLICY = default_policy.clone(max_line_length=998)


def build_message(sender: str, message: MailMessage) -> EmailMessage:
    mail = EmailMessage(policy=POLICY)
    mail["From"] = sender
    mail["To"] = message.to
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2].strip("> ") or None)
    mail.set_content(message.body)
    return mail


class FileMailer:
    """Writes each message to ``directory`` as ``<time>-<random>.eml``, readable only by the
    instance's user (mail carries sign-up links). A write is atomic: a reader never sees
    half a message."""

    def __init__(self, directory: Path, sender: str) -> None:
        self.directory = directory
        self.sender = sender

    def send(self, message: MailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        partial = self.directory / f".{name}.part"
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(bytes(build_message(self.sender, message)))
        partial.rename(self.directory / name)

    def sent(self) -> list[EmailMessage]:
        """Every message written so far, oldest first."""
        if not self.directory.is_dir():
            return []
        parser = BytesParser(policy=default_policy)
        return [
            parser.parsebytes(path.read_bytes()) for path in sorted(self.directory.glob("*.eml"))
        ]


class SmtpMailer:
    """Sends through an SMTP server (STARTTLS by default; ``ssl`` for port 465)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send(self, message: MailMessage) -> None:
        s = self.settings
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if s.smtp_security == "ssl":
            smtp = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=30, context=context)
        else:
            smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=30)
        with smtp:
            if s.smtp_security == "starttls":
                smtp.starttls(context=context)
            if s.smtp_username:
                password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                smtp.login(s.smtp_username, password)
            smtp.send_message(build_message(s.mail_from, message))


def make_mailer(settings: Settings) -> Mailer:
    if settings.mail_backend == "smtp":
        return SmtpMailer(settings)
    return FileMailer(settings.effective_mail_dir, settings.mail_from)
