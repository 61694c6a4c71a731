"""The menu and the form controls at 360 px: each persona's first destinations stay in view
and the rest open from one "Menu" disclosure (no script, keyboard and screen reader
alike), in English, Hindi and isiZulu; every kind of input and a disabled button look
alike across pages, axe-core clean."""

from __future__ import annotations

import pytest
from test_browser_journeys import PHONE, sign_in

from datatrust.i18n import translator
from datatrust.services.demo import BUYER, DEMO_PASSWORD, OPERATOR

pytestmark = pytest.mark.browser
# Who signs in, where they land, what stays in view and what is behind "Menu".
PERSONAS = {
    "anonymous": (None, "/", ["Sign in", "Sign up"], ["Licences"]),
    "contributor": (
        "sipho@demo.datatrust",
        "/my/items",
        ["Tasks", "My items", "Earnings"],
        ["Consent", "Review", "Inbox", "Notices", "Trace a copy", "Licences", "My account"],
    ),
    "buyer": (
        BUYER,
        "/buyer/organisation",
        ["Catalogue", "Orders", "Snapshots"],
        ["Organisation", "Campaigns", "Revocations", "Webhook", "Inbox", "My account"],
    ),
    "operator": (
        OPERATOR,
        "/operator/vetting",
        ["Campaigns", "Buyer vetting"],
        ["Payouts", "Instance settings", "Audit log", "Incidents", "Trace a copy", "My account"],
    ),
}
# Two rows of 44 px targets and the header's padding: the brand and "Menu", then the
# persona's first destinations. Before the menu, a contributor's header took five rows.
HEADER_MAX_PX = 2 * 44 + 24


@pytest.mark.parametrize("lang", ["en", "hi", "zu"])
def test_the_menu_takes_two_rows_at_360_px_and_opens_the_rest(browser, live_server, check, lang):
    _ = translator(lang).gettext
    for persona, (email, home, primary, more) in PERSONAS.items():
        context = browser.new_context(viewport=PHONE, base_url=live_server)
        page = context.new_page()
        if email:
            sign_in(page, email, DEMO_PASSWORD)
            page.wait_for_url(f"**{home}")
        page.goto(f"{home}?lang={lang}")
        header = page.locator("header.top")
        height = header.bounding_box()["height"]
        assert height <= HEADER_MAX_PX, f"{persona} {lang}: header {height} px high"
        nav = page.get_by_role("navigation", name=_("Main"))
        for label in primary:
            assert nav.get_by_role("link", name=_(label), exact=True).is_visible(), label
        hidden = [nav.get_by_role("link", name=_(label), exact=True) for label in more]
        assert not any(link.is_visible() for link in hidden), persona
        page.locator("details.menu summary").click()
        assert all(link.is_visible() for link in hidden), persona
        if email:
            assert nav.get_by_role("button", name=_("Sign out")).is_visible()
        # Open, the menu lies over the page without pushing it sideways.
        check(page, f"menu_{persona}_{lang}")
        context.close()


def test_the_menu_opens_from_the_keyboard_without_javascript(browser, live_server):
    """Tab reaches "Menu" right after the persona's first destinations; Enter opens it and
    the next Tab is its first link; a screen reader hears a collapsed, then expanded,
    control named "Menu". No script runs on the page."""
    context = browser.new_context(viewport=PHONE, base_url=live_server, java_script_enabled=False)
    page = context.new_page()
    sign_in(page, "priya@demo.datatrust", DEMO_PASSWORD)
    page.wait_for_url("**/my/items")
    page.goto("/my/items?lang=en")
    focused = []
    for _ in range(5):  # skip link, brand, Tasks, My items, Earnings
        page.keyboard.press("Tab")
        focused.append(page.evaluate("() => document.activeElement.textContent.trim()"))
    assert focused[2:] == ["Tasks", "My items", "Earnings"]
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.tagName") == "SUMMARY"
    summary = "details.menu summary"
    assert _accessibility(page, summary).endswith("'Menu' expanded=false")
    page.keyboard.press("Enter")
    assert page.locator("details.menu").get_attribute("open") is not None
    assert _accessibility(page, summary).endswith("'Menu' expanded=true")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.getAttribute('href')") == "/my/licences"
    page.keyboard.press("Enter")
    page.wait_for_url("**/my/licences")
    current = page.locator("nav [aria-current=page]")
    assert current.get_attribute("href") == "/my/licences"
    context.close()


def _accessibility(page, selector: str) -> str:
    """The control's role, name and expanded state as Chromium exposes them to a screen
    reader (the DevTools accessibility tree), e.g. ``DisclosureTriangle 'Menu' expanded=false``."""
    session = page.context.new_cdp_session(page)
    found = session.send(
        "Runtime.evaluate", {"expression": f"document.querySelector({selector!r})"}
    )
    tree = session.send("Accessibility.getPartialAXTree", {"objectId": found["result"]["objectId"]})
    session.detach()
    node = tree["nodes"][0]
    props = {p["name"]: p["value"].get("value") for p in node.get("properties", [])}
    expanded = str(props.get("expanded", False)).lower()
    return f"{node['role']['value']} {node['name']['value']!r} expanded={expanded}"


# Every kind of control the pages use, planted in a real page (CSP forbids inline styles,
# not markup) so their computed styles can be compared.
CONTROLS = """() => {
  document.querySelector('main').insertAdjacentHTML('beforeend', `
    <form id="planted">
      <label for="p-text">Text</label><input id="p-text" type="text">
      <label for="p-number">Number</label><input id="p-number" type="number">
      <label for="p-date">Date</label><input id="p-date" type="date">
      <label for="p-url">Address</label><input id="p-url" type="url">
      <label for="p-plain">Plain</label><input id="p-plain">
      <label for="p-select">Choice</label><select id="p-select"><option>one</option></select>
      <label for="p-area">Words</label><textarea id="p-area"></textarea>
      <label for="p-file">File</label><input id="p-file" type="file">
      <label><input id="p-box" type="checkbox"> Box</label>
      <label><input id="p-radio" type="radio" name="r"> Radio</label>
      <button id="p-on" type="button">On</button>
      <button id="p-off" type="button" disabled>Off</button>
      <button id="p-aria-off" type="button" aria-disabled="true">Not yet</button>
      <button id="p-secondary-off" type="button" class="secondary" disabled>Off too</button>
    </form>`);
}"""
STYLE = """(id) => {
  const s = getComputedStyle(document.getElementById(id));
  return {border: s.borderTopColor, width: s.borderTopWidth, radius: s.borderTopLeftRadius,
          height: document.getElementById(id).getBoundingClientRect().height,
          font: s.fontSize, background: s.backgroundColor, colour: s.color, cursor: s.cursor,
          style: s.borderTopStyle, accent: s.accentColor,
          boxWidth: document.getElementById(id).getBoundingClientRect().width};
}"""


def test_every_input_and_a_disabled_button_are_styled_alike(phone, check):
    phone.goto("/sign-up?lang=en")
    phone.evaluate(CONTROLS)
    style = {
        id_: phone.evaluate(STYLE, id_)
        for id_ in (
            "p-text",
            "p-number",
            "p-date",
            "p-url",
            "p-plain",
            "p-select",
            "p-area",
            "p-box",
            "p-radio",
            "p-on",
            "p-off",
            "p-aria-off",
            "p-secondary-off",
        )
    }
    fields = ["p-text", "p-number", "p-date", "p-url", "p-plain", "p-select", "p-area"]
    # Text-like fields: one border, one radius, one font size, a 44 px touch target.
    assert len({(style[f]["border"], style[f]["radius"], style[f]["font"]) for f in fields}) == 1
    assert all(style[f]["height"] >= 44 for f in fields), {f: style[f]["height"] for f in fields}
    # Boxes and radios larger than Chromium's 13 px default, in the buttons' colour.
    for box in ("p-box", "p-radio"):
        assert style[box]["boxWidth"] >= 20 and style[box]["accent"] == style["p-on"]["background"]
    # A disabled button, native or aria-disabled, secondary or not, is plainly not the
    # enabled one: another background, a dashed border, the not-allowed cursor.
    for off in ("p-off", "p-aria-off", "p-secondary-off"):
        assert style[off]["background"] != style["p-on"]["background"], off
        assert style[off]["style"] == "dashed" and style[off]["cursor"] == "not-allowed", off
    looks = ("background", "colour", "border", "style", "cursor")
    assert {k: style["p-off"][k] for k in looks} == {k: style["p-aria-off"][k] for k in looks}
    # The file input's button is styled as ours, not the browser's grey.
    button = phone.evaluate(
        "() => getComputedStyle(document.getElementById('p-file'), '::file-selector-button')"
        ".borderTopColor"
    )
    assert button == style["p-on"]["border"]
    phone.locator("#p-text").focus()
    outline = phone.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    check(phone, "controls")
