"""The inbox on a phone (360 px) in isiZulu, axe-core clean: the demo's Sipho reads that
his street recording was accepted and paid (its pay and coverage bonus as the ledger paid
them), marks it read and chooses which notices he gets by email."""

from __future__ import annotations

import pytest
from test_browser_journeys import sign_in

from datatrust.domain.money import Money
from datatrust.i18n import format_money, translator
from datatrust.services.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def test_a_contributor_reads_his_inbox_in_isizulu_and_chooses_his_mail(phone, check):
    _ = translator("zu").gettext
    sign_in(phone, "sipho@demo.datatrust", DEMO_PASSWORD)
    phone.wait_for_url("**/my/items")
    phone.goto("/my/inbox?lang=zu")
    accepted = phone.locator(".card", has=phone.get_by_text(_("Your recording was accepted")))
    text = accepted.first.inner_text()
    assert format_money(Money(150, "USD"), "zu") in text  # the task's pay
    assert format_money(Money(50, "USD"), "zu") in text  # the coverage bonus
    check(phone, "inbox_zu")
    phone.get_by_role("button", name=_("Mark all as read")).click()
    phone.wait_for_url("**/my/inbox")
    assert phone.get_by_role("button", name=_("Mark all as read")).count() == 0

    phone.goto("/my/account")
    box = phone.get_by_label(_("When a recording of mine is not accepted"))
    assert box.is_checked()
    box.uncheck()
    phone.get_by_role("button", name=_("Save my choices")).click()
    phone.wait_for_selector(f"text={_('Your choices are saved.')}")
    assert not phone.get_by_label(_("When a recording of mine is not accepted")).is_checked()
    check(phone, "account_notices_zu")
