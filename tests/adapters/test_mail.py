"""The mail port's adapters: the file mailer writes complete messages a mail program
reads, private to the instance; the SMTP mailer hands a message to a real SMTP
conversation (a small server on loopback), signing in when told to."""

from __future__ import annotations

import base64
import socketserver
import stat
import threading
from email import message_from_bytes
from email.policy import default as default_policy

from datatrust.adapters.mail import FileMailer, SmtpMailer, make_mailer
from datatrust.services.ports import MailMessage
from support import make_settings


def test_the_file_mailer_writes_each_message_whole_and_private(tmp_path):
    mailer = FileMailer(tmp_path / "mail", "Datatrust <no-reply@example.org>")
    mailer.send(MailMessage("ana@example.org", "Bonjour", "Ukuvakasha: उदाहरण\nhttps://x/y"))
    mailer.send(MailMessage("bo@example.org", "Second", "two"))
    sent = mailer.sent()
    assert [m["To"] for m in sent] == ["ana@example.org", "bo@example.org"]
    assert sent[0]["Subject"] == "Bonjour" and sent[0]["Message-ID"]
    assert "उदाहरण" in sent[0].get_content() and "https://x/y" in sent[0].get_content()
    files = list((tmp_path / "mail").iterdir())
    assert len(files) == 2 and all(f.suffix == ".eml" for f in files)  # no partial left
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert stat.S_IMODE((tmp_path / "mail").stat().st_mode) == 0o700


def test_the_mail_backend_is_chosen_by_settings(tmp_path):
    assert isinstance(make_mailer(make_settings(tmp_path)), FileMailer)
    assert make_mailer(make_settings(tmp_path)).directory == tmp_path / "var" / "mail"
    assert type(make_mailer(make_settings(tmp_path, mail_backend="smtp"))).__name__ == "SmtpMailer"


class SmtpStub(socketserver.StreamRequestHandler):
    """Just enough of RFC 5321 (EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT) to receive one
    message as a mail server would; what it heard is kept on the server."""

    def handle(self) -> None:
        heard = self.server.heard  # type: ignore[attr-defined]

        def say(line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        say("220 stub ESMTP")
        while line := self.rfile.readline():
            command = line.decode().strip()
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                say("250-stub")
                say("250 AUTH PLAIN")
            elif verb == "AUTH":
                heard["auth"] = base64.b64decode(command.split()[2]).split(b"\0")[1:]
                say("235 accepted")
            elif verb in ("MAIL", "RCPT"):
                heard.setdefault("envelope", []).append(command)
                say("250 ok")
            elif verb == "DATA":
                say("354 go on")
                body = b""
                while (part := self.rfile.readline()) != b".\r\n":
                    body += part[1:] if part.startswith(b"..") else part
                heard["data"] = body
                say("250 queued")
            elif verb == "QUIT":
                say("221 bye")
                return
            else:
                say("502 not here")


def test_the_smtp_mailer_sends_a_whole_message_over_smtp_signing_in(tmp_path):
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), SmtpStub) as server:
        server.heard = {}  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        settings = make_settings(
            tmp_path,
            mail_backend="smtp",
            smtp_host="127.0.0.1",
            smtp_port=server.server_address[1],
            smtp_security="none",
            smtp_username="datatrust",
            smtp_password="s3cret",
        )
        mailer = make_mailer(settings)
        assert isinstance(mailer, SmtpMailer)
        mailer.send(MailMessage("asha@example.org", "भुगतान भेजा गया", "₹500 भेजे गए\n.\nend"))
        server.shutdown()
        heard = server.heard  # type: ignore[attr-defined]
    assert heard["auth"] == [b"datatrust", b"s3cret"]
    assert any("asha@example.org" in line for line in heard["envelope"])
    sent = message_from_bytes(heard["data"].replace(b"\r\n", b"\n"), policy=default_policy)
    assert sent["To"] == "asha@example.org" and sent["Subject"] == "भुगतान भेजा गया"
    assert sent["From"] == settings.mail_from and sent["Message-ID"]
    assert sent.get_content() == "₹500 भेजे गए\n.\nend\n"  # a lone dot survives
