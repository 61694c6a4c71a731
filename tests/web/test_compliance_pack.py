"""Issue 17 §6: each snapshot carries its compliance pack — the EU AI Act Art. 53(1)(d)
public summary of training content and California's AB 2013 documentation — as JSON among
its files and as a page in the buyer's language; what the marketplace cannot know is left
for the buyer, marked."""

from __future__ import annotations

import html
import json
import re

import pytest
from test_croissant_every_byte import snapshot, trainer  # noqa: F401  (fixtures)
from test_seed_story import download_all

from datatrust.pipeline.compliance import COMPLETE, TEXTS, size_range, to_complete_entries

BUYER_COMPLETES = [
    "provider",
    "model",
    "placed_on_market",
    "other_sources",
    "illegal_content_other",
    "purpose_fit",
    "first_used",
    "buyer_synthetic",
]


def _pack(folder) -> dict:
    return json.loads((folder / "compliance.json").read_text())


def test_the_pack_is_a_file_of_the_snapshot_with_its_checksum(snapshot):  # noqa: F811
    folder = snapshot["folder"]
    sums = (folder / "SHA256SUMS").read_text()
    assert "  compliance.json\n" in sums
    pack = _pack(folder)
    assert pack["version"] == snapshot["meta"]["version"] == "1.0.0"


def test_the_eu_summary_states_modalities_sizes_period_languages_and_source(snapshot):  # noqa: F811
    folder, walk, photo = snapshot["folder"], snapshot["walk"], snapshot["photo"]
    eu = _pack(folder)["eu_ai_act_art_53_1_d"]
    general = eu["general_information"]
    assert general["modalities"] == ["image", "video"]
    assert general["size_per_modality"]["video"] == {
        "items": 1,
        "seconds": 95,
        "range": {"code": "video_under_10k_hours", "text": "Less than 10,000 hours"},
    }
    assert general["size_per_modality"]["image"]["range"]["code"] == "image_under_1m"
    assert general["content_types"] == {
        "kinds": {"photo": 1, "video": 1},
        "formats": ["image/jpeg", "video/mp4"],
    }
    uploads = sorted([walk.created_at, photo.created_at])
    assert general["collection_period"] == {
        "from": uploads[0].isoformat(),
        "to": uploads[-1].isoformat(),
    }
    assert general["languages"] == ["en"]
    source = eu["data_sources"]["licensed_from_individuals"]
    assert source["code"] == "licensed_from_individuals" and source["items"] == 2
    manifest = json.loads((folder / "croissant.json").read_text())
    assert source["licences"] == manifest["license"]
    honoured = eu["data_processing"]
    assert honoured["rights_reservations"]["code"] == "rights_reservations"
    assert honoured["left_out_of_this_build"] == honoured["withdrawn_before_this_build"] == 0


def test_the_ab_2013_documentation_counts_the_data_points_and_names_what_was_done(snapshot):  # noqa: F811
    ab = _pack(snapshot["folder"])["california_ab_2013"]
    assert ab["data_points"] == {"total": 2, "by_kind": {"photo": 1, "video": 1}}
    assert ab["purchased_or_licensed"]["code"] == "licensed"
    assert ab["personal_information"]["text"].startswith("Yes")
    assert ab["cleaning_and_deidentification"]["code"] == "cleaning"
    assert ab["agreed_use"]["purpose"] == "model_training"
    assert ab["collection_period"]["ongoing"]["code"] == "not_ongoing"


def test_what_only_the_buyer_knows_is_marked_for_the_buyer_to_complete(snapshot):  # noqa: F811
    assert to_complete_entries(_pack(snapshot["folder"])) == BUYER_COMPLETES


def test_the_next_builds_pack_counts_the_withdrawal_it_honoured(
    snapshot,  # noqa: F811
    client,
    people,
    trainer,  # noqa: F811
    tmp_path,
):
    walk = snapshot["walk"]
    assert client.delete(
        f"/api/items/{walk.id}/consent", headers=people["owner"].headers
    ).is_success
    order_id = snapshot["order"]["id"]
    rebuilt = client.post(f"/api/buyers/orders/{order_id}/snapshots", headers=trainer.headers)
    nxt = client.get(f"/api/buyers/snapshots/{rebuilt.json()['id']}", headers=trainer.headers)
    download_all(client, nxt.json(), tmp_path / "next")
    pack = _pack(tmp_path / "next")
    honoured = pack["eu_ai_act_art_53_1_d"]["data_processing"]
    assert honoured["left_out_of_this_build"] == honoured["withdrawn_before_this_build"] == 1
    assert pack["california_ab_2013"]["data_points"]["total"] == 1
    assert pack["version"] == "2.0.0"


@pytest.mark.parametrize("lang", ["en", "hi", "zu"])
def test_the_pack_reads_as_a_page_in_words_in_each_language(
    snapshot,  # noqa: F811
    client,
    trainer,  # noqa: F811
    lang,
):
    snap_id = snapshot["meta"]["id"]
    page = client.get(
        f"/buyer/snapshots/{snap_id}/compliance", params={"lang": lang}, headers=trainer.headers
    )
    assert page.status_code == 200, page.text
    body = html.unescape(re.sub(r"<[^>]+>", " ", page.text))
    assert "to_complete" not in body and not re.search(r"\b[a-z]+_[a-z_]+\b", body)
    english = [*TEXTS.values(), *COMPLETE.values(), "Less than 10,000 hours"]
    if lang == "en":
        assert all(text in body for text in COMPLETE.values())
    else:
        assert not [text for text in english if text in body]
        assert "Compliance pack" not in body


def test_another_organisations_buyer_cannot_open_the_page(snapshot, client, people):  # noqa: F811
    snap_id = snapshot["meta"]["id"]
    other = client.get(f"/buyer/snapshots/{snap_id}/compliance", headers=people["buyer"].headers)
    assert other.status_code == 404


@pytest.mark.parametrize(
    ("modality", "amount", "code"),
    [
        ("text", 999_999_999, "text_under_1b_tokens"),
        ("text", 1e9, "text_1b_to_10t_tokens"),
        ("image", 1e6, "image_1m_to_1b"),
        ("audio", 9_999.9, "audio_under_10k_hours"),
        ("video", 1e6, "video_over_1m_hours"),
    ],
)
def test_sizes_fall_in_the_templates_ranges(modality, amount, code):
    assert size_range(modality, amount)["code"] == code
