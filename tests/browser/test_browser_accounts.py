"""Accounts on a phone (360 px), axe-core clean at every step: a contributor who forgot
their password gets a link by mail and chooses a new one, then sets their profile to
Hindi and changes the password again from the Hindi account page."""

from __future__ import annotations

import re

import pytest
from test_browser_journeys import sign_in, sign_up, unique_email

from datatrust.i18n import translator
from support import mail_to

pytestmark = pytest.mark.browser
RESET_LINK = re.compile(r"/reset-password\?token=[0-9a-f.]+")


def test_a_forgotten_password_is_reset_by_mail_and_the_profile_switches_to_hindi(
    phone, check, live_services
):
    email = unique_email("naledi")
    sign_up(phone, live_services, email)
    phone.wait_for_url("**/my/items")
    phone.context.clear_cookies()

    sign_in(phone, email, "not my password at all")
    phone.get_by_role("link", name="Forgot your password?").click()
    phone.wait_for_url("**/forgot-password")
    check(phone, "forgot_password")
    phone.get_by_label("Email").fill(email)
    phone.get_by_role("button", name="Send me a link").click()
    phone.wait_for_selector("text=a link to choose a new password is on its way")
    check(phone, "forgot_password_sent")

    (link,) = [RESET_LINK.search(m.get_content()) for m in mail_to(live_services, email)[-1:]]
    phone.goto(link.group(0))
    check(phone, "reset_password")
    phone.get_by_label("New password").fill("short")
    phone.get_by_role("button", name="Set my new password").click()
    phone.wait_for_selector(".field.has-error")
    assert "at least 10 characters" in phone.locator(".field .error").inner_text()
    check(phone, "reset_password_error")
    phone.get_by_label("New password").fill("purple tractor sings quietly")
    phone.get_by_role("button", name="Set my new password").click()
    phone.wait_for_url("**/my/items")

    phone.goto("/my/account")
    phone.get_by_label("Display name").fill("Naledi")
    phone.locator("#f-language").select_option("hi")
    phone.get_by_label("Currency for approximate amounts").select_option("INR")
    phone.get_by_role("button", name="Save my profile").click()
    _ = translator("hi").gettext
    phone.wait_for_selector(f"text={_('Your profile is saved.')}")
    assert phone.locator("html").get_attribute("lang") == "hi"
    assert phone.get_by_label(_("Display name")).input_value() == "Naledi"
    check(phone, "account_profile_hi")

    phone.get_by_label(_("Current password")).fill("purple tractor sings quietly")
    phone.get_by_label(_("New password")).fill("green kettle hums at noon")
    phone.get_by_role("button", name=_("Change my password")).click()
    changed = _(
        "Your password is changed. Other browsers signed in to your account were signed out,"
        " and your API tokens were revoked."
    )
    phone.wait_for_selector(f"text={changed}")
    check(phone, "account_password_changed_hi")
    phone.context.clear_cookies()
    sign_in(phone, email, "green kettle hums at noon")
    phone.wait_for_url("**/my/items")
