"""The Content-Security-Policy in a real browser: pages and the API explorer work under it
(no violation reported), and it does block what it should."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def _violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    page.on(
        "console",
        lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None,
    )
    return seen


def test_the_api_explorer_renders_from_local_files_under_the_policy(phone):
    seen = _violations(phone)
    requests: list[str] = []
    phone.on("request", lambda r: requests.append(r.url))
    phone.goto("/docs")
    phone.wait_for_selector(".opblock-summary", timeout=20_000)  # the operations, rendered
    assert phone.locator(".opblock-summary").count() > 20
    origin = phone.evaluate("() => location.origin")
    assert requests and all(url.startswith(origin) or url.startswith("data:") for url in requests)
    assert not seen, seen


def test_pages_raise_no_policy_violation_and_inline_script_is_blocked(phone):
    seen = _violations(phone)
    for path in ("/", "/sign-in", "/sign-up", "/licences"):
        phone.goto(path)
    assert not seen, seen
    # What an injected script would do: the policy refuses it.
    phone.evaluate(
        """() => {
        const s = document.createElement('script');
        s.textContent = 'window.ran = true';
        document.body.appendChild(s);
    }"""
    )
    assert phone.evaluate("() => window.ran") is None
    assert any("script-src" in v for v in seen)
