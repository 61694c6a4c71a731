"""A refused form reads in words in Hindi and isiZulu: the problems next to its fields carry
no code, no snake_case word and no English word the catalogues translate (issue 18 §2, the
rule of the page walks in tests/page_text.py, applied to pages the walks never post)."""

from __future__ import annotations

import re

import pytest
from test_seed_story import buyer

from page_text import leaked_english, not_in_words, visible
from support import post_form


def main(html: str) -> str:
    """The page's own content: what a refusal changes."""
    return visible(html.split("<main", 1)[1].split("</main>", 1)[0])


@pytest.mark.parametrize("lang", ["hi", "zu"])
def test_an_undeclared_purpose_and_a_denied_industry_are_refused_in_words(
    client, services, people, lang
):
    trainer, _ = buyer(services, people, "trainer", ["model_training"], ["technology"])
    refused = client.post(
        f"/buyer/orders?lang={lang}",
        headers=trainer.headers,
        data={
            "action": "train",
            "purpose": "advertising",
            "industry": "political_campaigning",
            "territory": "ZA",
            "ends_at": "2027-06-01",
        },
    )
    assert refused.status_code == 422
    text = main(refused.text)
    assert not_in_words(text, leaked_english(services, lang)) == []
    # The purpose and the industry named by their words, never their codes.
    advertising = {"hi": "विज्ञापन", "zu": "ukukhangisa"}[lang]
    assert advertising in text.lower()


@pytest.mark.parametrize("lang", ["hi", "zu"])
def test_signing_up_with_an_unknown_role_is_refused_in_words(client, services, lang):
    refused = post_form(
        client,
        f"/sign-up?lang={lang}",
        data={"email": "x@example.org", "password": "correct horse battery", "role": "wizard"},
    )
    assert refused.status_code == 422
    text = main(refused.text)
    assert not_in_words(text, leaked_english(services, lang)) == []
    # The roles one may choose, in words: the choices are never shown as codes.
    assert "contributor" not in text and "buyer" not in text
    (said,) = re.findall(r'class="error"[^>]*>([^<]*)<', refused.text)
    assert {"hi": "योगदानकर्ता और खरीदार", "zu": "umnikeli ne-umthengi"}[lang] in said
