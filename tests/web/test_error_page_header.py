"""An error page keeps the header of whoever asked (issue 18 §9): a signed-in person who
reaches a page that is not there, or not theirs, still sees their own menu and can sign
out; a visitor, or a refused credential, reads it signed out."""

from __future__ import annotations

from test_pages_contributor import contributor  # noqa: F401


def header(html: str) -> str:
    return html.split("<main", 1)[0]


def test_a_signed_in_contributor_keeps_her_menu_on_a_not_found_page(contributor):  # noqa: F811
    missing = contributor.get("/my/items/999999?lang=en")
    assert missing.status_code == 404
    assert "Nothing here, or nothing you may see." in missing.text
    top = header(missing.text)
    assert 'href="/my/items"' in top and 'action="/sign-out"' in top
    assert 'href="/sign-in"' not in top


def test_a_page_she_may_not_see_answers_403_under_her_own_header(contributor):  # noqa: F811
    refused = contributor.get("/operator/vetting?lang=hi")
    assert refused.status_code == 403
    top = header(refused.text)
    assert 'action="/sign-out"' in top and 'href="/sign-in"' not in top
    assert 'href="/my/items"' in top  # a contributor's menu, not an operator's
    assert 'href="/operator/vetting"' not in top


def test_a_visitor_and_a_refused_token_read_the_error_signed_out(client):
    missing = client.get("/my/items/999999")
    assert missing.status_code == 401  # sign in first
    top = header(missing.text)
    assert 'href="/sign-in"' in top and 'action="/sign-out"' not in top
    bad = client.get("/my/items", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401
    assert 'action="/sign-out"' not in header(bad.text)


BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_an_address_no_route_answers_is_a_page_in_words_under_her_own_header(contributor):  # noqa: F811
    missing = contributor.get("/nothing-here?lang=hi", headers=BROWSER)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    top = header(missing.text)
    assert 'action="/sign-out"' in top and 'href="/my/items"' in top
    assert "Nothing here" not in missing.text  # in Hindi, like the rest of her page


def test_a_visitor_reads_an_unknown_address_as_a_page_signed_out(client):
    missing = client.get("/nothing-here?lang=en", headers=BROWSER)
    assert missing.status_code == 404
    assert "Nothing here, or nothing you may see." in missing.text
    assert 'href="/sign-in"' in header(missing.text)


def test_api_clients_and_api_addresses_keep_the_problem_in_json(client):
    for response in (
        client.get("/nothing-here"),  # a client that does not ask for HTML
        client.get("/api/nothing-here", headers=BROWSER),  # the API never answers a page
        client.post("/nothing-here", headers=BROWSER),  # not 405: no route takes any method
    ):
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["problems"][0]["code"] == "request.no_such_route"
