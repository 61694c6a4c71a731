"""Payouts on a phone (360 px), axe-core clean: the demo's Marcus was actually paid (his
first payout, the instance's minimum, went to his bank account), sees the smallest payout
before asking and adds a UPI address after one typing mistake."""

from __future__ import annotations

import pytest
from test_browser_journeys import sign_in

from datatrust.services.demo import DEMO_PASSWORD, PAID

pytestmark = pytest.mark.browser


def test_the_demo_contributor_was_paid_and_adds_a_payout_method(phone, check):
    sign_in(phone, PAID, DEMO_PASSWORD)
    phone.wait_for_url("**/my/items")
    phone.goto("/my/earnings?lang=en")
    assert phone.get_by_text("The smallest payout is $10.00.").is_visible()
    paid = phone.locator(".card", has=phone.get_by_text("Paid."))
    assert "$10.00" in paid.inner_text() and "···· 6789" in paid.inner_text()
    check(phone, "earnings_paid")

    phone.get_by_role("link", name="Where I am paid").click()
    phone.wait_for_url("**/my/payout-methods")
    upi = phone.locator("section", has=phone.get_by_role("heading", name="Add: UPI"))
    upi.get_by_label("Name on the account").fill("Marcus Reed")
    upi.get_by_label("UPI address").fill("marcus")
    upi.get_by_label("Current password").fill(DEMO_PASSWORD)
    upi.get_by_role("button", name="Add UPI").click()
    phone.wait_for_selector("#e-upi-vpa-1")
    assert "name@bank" in phone.locator("#e-upi-vpa-1").inner_text()
    check(phone, "payout_methods_error")
    upi = phone.locator("section", has=phone.get_by_role("heading", name="Add: UPI"))
    upi.get_by_label("UPI address").fill("marcus@okbank")
    upi.get_by_label("Current password").fill(DEMO_PASSWORD)
    upi.get_by_role("button", name="Add UPI").click()
    phone.wait_for_selector("text=Payout method added.")
    assert phone.get_by_text("UPI ma···@okbank", exact=True).is_visible()
    # New: paid to only after the holding period, and the page says from when.
    new = phone.locator(".card", has=phone.get_by_text("UPI ma···@okbank", exact=True))
    assert "Payouts go to it from" in new.inner_text()
    check(phone, "payout_methods")
