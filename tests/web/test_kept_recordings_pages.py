"""What the pages give the browser so that a recording made in the capture page survives a
closed tab (static/recordings.js keeps it per account, record.js lists it), without a
browser: the capture page names the account whose store to open and carries the words
for an unfinished recording in the reader's language; signing out and erasing the account
tell the browser to clear what this site keeps (Clear-Site-Data). The journey itself runs
in Chromium (tests/browser/test_browser_uploads.py)."""

from __future__ import annotations

import html
import json
import re

import pytest
from markupsafe import escape
from test_pages_contributor import accept, csrf_of, open_campaign

from datatrust.domain.accounts import User
from datatrust.i18n import translator
from support import sign_up_page

CLEARS_STORAGE = '"storage"'
WORDS = (
    "Not uploaded yet",
    "Resume upload",
    "Discard",
    "The recording was discarded.",
    "For other tasks: open each one's page to resume or discard it.",
)


@pytest.fixture
def contributor(client, services):
    assert sign_up_page(client, services, "ayanda@example.org").status_code == 303
    return client


@pytest.mark.parametrize("lang", ["en", "hi", "zu"])
def test_the_capture_page_names_the_account_and_words_an_unfinished_recording(
    contributor, services, people, lang
):
    campaign = open_campaign(contributor, people["operator"])
    page = contributor.get(accept(contributor, campaign["id"]) + f"&lang={lang}").text
    with services.uow() as unit:
        me = unit.one(User, email="ayanda@example.org")
    assert f'data-account="{me.id}"' in page
    assert 'src="/static/recordings.js"' in page
    assert f'data-task="{campaign["title"]}"' in page  # named on other tasks' pages
    _ = translator(lang).gettext
    for words in WORDS:
        assert str(escape(_(words))) in page
        assert lang == "en" or _(words) != words  # translated
    # "N seconds" by CLDR, for the browser to fill in (its own names may be English).
    patterns = json.loads(html.unescape(re.search(r"data-seconds='([^']+)'", page).group(1)))
    assert (
        patterns["other"] == {"en": "{0} seconds", "hi": "{0} सेकंड", "zu": "{0} amasekhondi"}[lang]
    )
    sentence = html.unescape(re.search(r'data-sentence="([^"]+)"', page).group(1))
    # The browser fills in the length and the share sent, in the page's language.
    template = _("Your recording of %(duration)s has not finished uploading: %(percent)s sent.")
    assert sentence == template % {"duration": "{duration}", "percent": "{percent}"}


def test_signing_out_clears_what_the_site_keeps_in_the_browser(contributor):
    token = csrf_of(contributor.get("/my/items").text)
    out = contributor.post("/sign-out", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303
    assert out.headers["clear-site-data"] == CLEARS_STORAGE


def test_erasing_the_account_clears_what_the_site_keeps_in_the_browser(contributor):
    token = csrf_of(contributor.get("/my/account").text)
    refused = contributor.post("/my/account/erase", data={"csrf_token": token, "confirm": "no"})
    assert refused.status_code == 422 and "clear-site-data" not in refused.headers
    erased = contributor.post(
        "/my/account/erase",
        data={"csrf_token": token, "confirm": "erase me"},
        follow_redirects=False,
    )
    assert erased.status_code == 303 and erased.headers["clear-site-data"] == CLEARS_STORAGE
