"""A rejected item's page says why there is nothing to consent to (its consent card was
an empty heading in every language: seen at 360 px in the persona screenshots)."""

from __future__ import annotations

from test_pages_contributor import contributor, rejected_upload  # noqa: F401

from datatrust.i18n import translator


def test_a_rejected_items_consent_card_says_there_is_nothing_to_give(contributor, people):  # noqa: F811
    item_url = rejected_upload(contributor, people)
    sentence = "It was rejected, so it is never offered to buyers and there is no consent to give."
    for lang in ("en", "hi", "zu"):
        page = contributor.get(f"{item_url}?lang={lang}").text
        card = page.split('id="h-consent"', 1)[1].split("</section>", 1)[0]
        assert translator(lang).gettext(sentence) in card, lang
        assert 'id="consent-link"' not in card
