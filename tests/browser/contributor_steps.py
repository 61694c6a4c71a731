"""Steps of a contributor's journey that more than one browser test takes, written once:
each works in any language (the caller passes ``_``, the page's translator, or reads what
it needs by id) and calls ``look(name)`` on every page it lands on, so the caller checks
it its own way (axe-core and a screenshot, or a persona's full reading)."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

# The terms of the browser tests' sound tasks: ambient sound, paid per minute, clips from
# one second (the journeys record two), reviewed by the operator.
SOUND_TASK = {
    "kind": "ambient",
    "rate_minor": 50,
    "currency": "USD",
    "quota": 100,
    "pay_basis": "per_minute",
    "spec": {"min_duration_s": 1, "max_duration_s": 120},
    "review_mode": "operator",
}

Look = Callable[[str], Any]


def withdraw_consent(page: Any, item_path: str, _: Callable[[str], str], look: Look) -> str:
    """From the item's page: "Withdraw consent", the confirmation stating its effect, its
    button; back on the item. Returns the effect as the confirmation stated it."""
    page.goto(item_path)
    page.get_by_role("link", name=_("Withdraw consent")).click()
    page.wait_for_url(f"**{item_path}/withdraw")
    effect = page.locator("#withdraw-effects").inner_text()
    look("withdraw_confirm")
    page.get_by_role("button", name=_("Withdraw consent")).click()
    page.wait_for_url(re.compile(re.escape(item_path) + r"$"))
    return effect


def give_consent_again(page: Any, item_path: str, _: Callable[[str], str], look: Look) -> str:
    """From a withdrawn item's page: "Give consent again", the licence choice (the same
    page a first consent takes), its button; back on the item. Returns what the choice
    page said a new consent does."""
    page.goto(item_path)
    page.get_by_role("link", name=_("Give consent again")).click()
    page.wait_for_url(f"**{item_path}/consent")
    said = page.locator("#consent-again-effects").inner_text()
    assert page.locator("input[name=offer_id]:checked").count() == 1  # a licence chosen
    look("consent_again")
    page.locator("form.consent-choice button[type=submit]").click()
    page.wait_for_url(re.compile(re.escape(item_path) + r"$"))
    return said


def delete_one_item(page: Any, item_id: int, look: Look) -> str:
    """From the item's page: "Delete this item", the page stating what it does, its
    button; back on My items with the notice. Returns what the page said."""
    page.goto(f"/my/items/{item_id}")
    page.locator("#delete-link").click()
    page.wait_for_url(f"**/my/items/{item_id}/delete")
    effects = page.locator("#delete-effects").inner_text()
    look("item_delete")
    page.locator("main form button[type=submit]").click()
    page.wait_for_url("**/my/items?deleted=1")
    look("items_after_delete")
    return effects


def search(page: Any, label: str, words: str) -> None:
    """Type ``words`` into a list's search box (found by its ``label``) and search."""
    page.get_by_label(label).fill(words)
    page.locator("form.filters button[type=submit]").click()
    page.wait_for_url(f"**?q={quote_plus(words)}*")


def export_my_data(page: Any, _: Callable[[str], str]) -> zipfile.ZipFile:
    """ "Download my data" on the account page: the zip the browser saved."""
    page.goto("/my/account")
    with page.expect_download() as download:
        page.get_by_role("link", name=_("Download my data")).click()
    with open(download.value.path(), "rb") as saved:
        return zipfile.ZipFile(io.BytesIO(saved.read()))


def erase_my_account(page: Any, _: Callable[[str], str], look: Look) -> None:
    """The account page's "Delete my account", its phrase typed as the page shows it in
    the reader's language; lands on the page that says what was done."""
    page.goto("/my/account")
    page.locator("#f-confirm").fill(_("erase me"))
    page.locator("form[action='/my/account/erase'] button[type=submit]").click()
    page.wait_for_url("**/account-deleted")
    look("account_deleted")
