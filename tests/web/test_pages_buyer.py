"""The buyer's pages without a browser: catalogue with facets, declaring a use (its
selection, the excluded-by-reason breakdown and the quote), snapshots and the revocation
feed. Bearer tokens stand in for a session: the pages accept either."""

from __future__ import annotations

import re


def test_the_catalogue_shows_a_count_and_use_filters(client, people):
    headers = people["buyer"].headers
    use = "action=train&purpose=model_training&industry=technology&territory=GB"
    page = client.get(f"/buyer/catalogue?{use}", headers=headers)
    assert page.status_code == 200, page.text
    assert re.search(r'id="match-count">\d+ items match', page.text)
    # One facet alone narrows the list (it was refused for the facets not chosen)...
    partial = client.get("/buyer/catalogue?purpose=model_training", headers=headers)
    assert partial.status_code == 200 and 'class="error"' not in partial.text
    # ...and a code nobody knows is named next to its field.
    unknown = client.get("/buyer/catalogue?purpose=world_domination", headers=headers)
    assert unknown.status_code == 422 and 'class="error"' in unknown.text


def test_a_use_with_problems_is_refused_by_field_and_keeps_the_input(client, people):
    page = client.post(
        "/buyer/orders",
        headers=people["buyer"].headers,
        data={"action": "", "purpose": "model_training", "territory": "zz", "ends_at": ""},
    )
    assert page.status_code == 422
    # The country is a choice now (no code typed): "ZZ", which no option holds, is refused
    # next to that field, and what was chosen in the other fields is kept.
    assert 'id="e-territory-1"' in page.text and 'aria-invalid="true"' in page.text
    assert '<option value="model_training" selected>' in page.text


def test_a_use_the_organisation_did_not_declare_is_refused_next_to_its_field(client, people):
    headers = people["buyer"].headers
    response = client.post(
        "/buyer/orders",
        headers=headers,
        data={
            "action": "train",
            "purpose": "model_training",
            "industry": "technology",
            "territory": "GB",
            "ends_at": "2030-01-01",
            "task": "scene_understanding",
            "outputs": ["labels"],
        },
    )
    assert response.status_code == 422
    assert "did not declare" in response.text
    assert '<option value="model_training" selected>' in response.text


def test_snapshots_and_the_revocation_feed_render_for_a_buyer(client, people):
    headers = people["buyer"].headers
    assert client.get("/buyer/snapshots", headers=headers).status_code == 200
    feed = client.get("/buyer/feed", headers=headers)
    assert feed.status_code == 200 and "Revocations" in feed.text


def test_a_contributor_cannot_open_the_buyer_pages(client, people):
    for path in ("/buyer/catalogue", "/buyer/orders", "/buyer/snapshots", "/buyer/feed"):
        assert client.get(path, headers=people["owner"].headers).status_code == 403, path


def test_the_order_form_refuses_a_training_use_that_does_not_say_what_the_model_does(
    client, people
):
    response = client.post(
        "/buyer/orders",
        headers=people["buyer"].headers,
        data={
            "action": "train",
            "purpose": "model_training",
            "industry": "technology",
            "territory": "GB",
            "ends_at": "2030-01-01",
        },
    )
    assert response.status_code == 422
    assert "required: say what the resulting model will do" in response.text
    assert "required: say what the resulting model will output" in response.text
    assert 'name="task"' in response.text and 'name="outputs"' in response.text
