"""API tokens on a phone (360 px), in English, Hindi and isiZulu: a contributor creates a
token, sees its secret once and its state (what it may do, until when it works, never
used), revokes it and sees it revoked; axe-core clean at every step, and on the Hindi and
isiZulu pages no code, snake_case word or untranslated English (tests/page_text.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from babel.dates import format_date
from test_browser_journeys import sign_up, unique_email

from datatrust.domain.accounts import ApiToken, User
from datatrust.i18n import translator
from page_text import leaked_english, not_in_words, visible, words

pytestmark = pytest.mark.browser
# What the person calls the token, in their language (their own words on the page).
NAMES = {"en": "uploads from my phone", "hi": "मेरे फ़ोन से अपलोड", "zu": "okulayishwa ocingweni"}


def day(moment, lang: str) -> str:
    """A date as the page writes it (``Explain.day``: CLDR's long date for ``lang``)."""
    return format_date(moment, format="long", locale=lang)


@pytest.mark.parametrize("lang", ["en", "hi", "zu"])
def test_a_contributor_creates_a_token_sees_its_state_and_revokes_it(
    phone, check, live_services, lang
):
    _ = translator(lang).gettext
    email = unique_email(f"tokens-{lang}")
    sign_up(phone, live_services, email, lang=lang)
    phone.wait_for_url("**/my/items")

    def see(name: str) -> str:
        text = visible(phone.content())
        if lang != "en":
            leaked = leaked_english(live_services, lang) - words(NAMES[lang])
            assert not_in_words(text, leaked) == [], f"{name} ({lang})"
        check(phone, f"{name}_{lang}")
        return text

    phone.goto(f"/my/tokens?lang={lang}")
    assert phone.locator("html").get_attribute("lang") == lang
    assert _("No tokens yet.") in see("tokens_empty")

    phone.get_by_label(_("Name")).fill(NAMES[lang])
    phone.get_by_label(_("Works for")).select_option("30")
    phone.get_by_role("button", name=_("Create the token")).click()
    phone.wait_for_selector("#new-token")
    secret = phone.locator("#new-token").inner_text()
    assert secret.startswith("dt_")
    shown = see("tokens_created")
    assert _("Your new token. Copy it now: it is shown only this once.") in shown
    card = phone.locator("li.card[id^=token-]")
    assert card.count() == 1
    card_text = card.inner_text()
    assert NAMES[lang] in card_text and _("Read only") in card_text
    assert _("never used") in card_text
    with live_services.uow() as uow:
        user = uow.one(User, email=email)
        [token] = uow.all(ApiToken, user_id=user.id)
        lasts = token.expires_at - token.created_at
        assert token.revoked_at is None and abs(lasts - timedelta(days=30)) < timedelta(minutes=1)
    assert _("Works until %(date)s") % {"date": day(token.expires_at, lang)} in card_text

    # The secret works, until it is revoked.
    api = phone.context.request
    assert api.get("/api/me", headers={"Authorization": f"Bearer {secret}"}).status == 200
    card.get_by_role("button", name=_("Revoke")).click()
    phone.wait_for_url("**/my/tokens?done=revoked")
    revoked = see("tokens_revoked")
    assert _("The token is revoked: it no longer works.") in revoked
    assert phone.locator("#new-token").count() == 0  # the secret is never shown again
    card_text = phone.locator("li.card[id^=token-]").inner_text()
    with live_services.uow() as uow:
        token = uow.get(ApiToken, token.id)
    assert _("Revoked on %(date)s") % {"date": day(token.revoked_at, lang)} in card_text
    assert card.get_by_role("button", name=_("Revoke")).count() == 0
    assert api.get("/api/me", headers={"Authorization": f"Bearer {secret}"}).status == 401
