"""The file mailer: complete messages a mail program reads, private to the instance."""

from __future__ import annotations

import stat

from datatrust.adapters.mail import FileMailer, make_mailer
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
