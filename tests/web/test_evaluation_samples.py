"""Issue 17 §5: a vetted buyer sees a small, watermarked, de-identified sample of a
selection before buying, within its organisation's limit; each item seen is in the
contributor's passport, in words."""

from __future__ import annotations

import base64
import io

from PIL import Image
from test_croissant_every_byte import PHOTO, listed_photo
from test_seed_story import TRAINING, WALK, buyer, license_training_only, listed_item, year_of_use

from datatrust.domain.items import Item, ItemKind
from datatrust.domain.samples import EvaluationSample


def _declared(client, services, people, name="sampler", photos=2):
    """An approved buyer's declared (not bought) order over ``photos`` photos and a video."""
    trainer, org = buyer(services, people, name, ["model_training"], ["technology"])
    shown = []
    for _ in range(photos):
        photo = listed_photo(services, people["owner"])
        license_training_only(client, people["owner"], photo.id)
        shown.append(photo)
    walk = listed_item(services, people["other"], WALK, "walk")
    license_training_only(client, people["other"], walk.id)
    order = client.post(
        "/api/buyers/orders", headers=trainer.headers, json={**TRAINING, **year_of_use()}
    ).json()
    assert order["selected"] == photos + 1, order
    return trainer, org, order, shown


def _sample(client, trainer, order_id, items=3):
    return client.post(
        "/api/buyers/samples", headers=trainer.headers, json={"order_id": order_id, "items": items}
    )


def test_a_vetted_buyer_gets_watermarked_previews_of_the_declared_selection(
    client, services, people
):
    trainer, org, order, _photos = _declared(client, services, people)
    got = _sample(client, trainer, order["id"])
    assert got.status_code == 201, got.text
    body = got.json()
    assert [i["kind"] for i in body["items"]] == ["photo", "photo"]
    assert body["not_previewable"] == 1  # the video: no preview of its kind yet
    assert org.legal_name in body["mark"]
    for shown in body["items"]:
        data = base64.b64decode(shown["data_base64"])
        assert data != PHOTO  # never the delivered bytes: a marked preview
        with Image.open(io.BytesIO(data)) as preview:
            assert preview.format == "JPEG" and not preview.getexif()
            assert max(preview.size) <= 320
            # The mark is drawn on it: the preview differs from the photo merely resized.
            with Image.open(io.BytesIO(PHOTO)) as original:
                plain = original.convert("RGB").resize(preview.size)
            assert plain.tobytes() != preview.convert("RGB").tobytes()
    assert body["used"] == 2 and body["limit"] == services.settings.evaluation_sample_limit


def test_the_organisations_limit_is_kept_and_a_refusal_records_nothing(client, services, people):
    services.settings.evaluation_sample_limit = 3
    trainer, org, order, _photos = _declared(client, services, people, photos=2)
    assert _sample(client, trainer, order["id"], items=2).status_code == 201
    refused = _sample(client, trainer, order["id"], items=2)
    assert refused.status_code == 409
    assert "may see 3 items" in refused.json()["error"]["message"]
    with services.uow() as uow:
        assert uow.count(EvaluationSample, org_id=org.id) == 2
    assert _sample(client, trainer, order["id"], items=1).status_code == 201
    assert _sample(client, trainer, order["id"], items=1).status_code == 409


def test_only_a_vetted_buyer_may_ask_and_only_for_its_own_order(client, services, people):
    _trainer, _org, order, _ = _declared(client, services, people)
    other, _other_org = buyer(services, people, "otherlab", ["model_training"], ["technology"])
    assert _sample(client, other, order["id"]).status_code == 404
    from datatrust.domain.permissions import Role
    from support import make_persona

    unvetted = make_persona(services, "unvetted", Role.BUYER, org=True)  # not approved
    assert _sample(client, unvetted, order["id"]).status_code == 403
    assert _sample(client, people["owner"], order["id"]).status_code == 403
    assert client.post("/api/buyers/samples", json={"order_id": order["id"]}).status_code == 401
    with services.uow() as uow:
        assert uow.count(EvaluationSample) == 0


def test_each_item_seen_is_in_its_passport_naming_the_buyer_in_words(client, services, people):
    trainer, org, order, photos = _declared(client, services, people, photos=1)
    assert _sample(client, trainer, order["id"], items=1).status_code == 201
    owner = people["owner"]
    passport = client.get(f"/api/items/{photos[0].id}/passport", headers=owner.headers).json()
    [seen] = [e for e in passport["events"] if e["tag"] == "sample:access"]
    assert seen["step"] == "seen in an evaluation sample"
    assert seen["details"]["org_name"] == org.legal_name
    pages = {
        lang: client.get(
            f"/my/items/{photos[0].id}/passport?lang={lang}", headers=owner.headers
        ).text
        for lang in ("en", "hi", "zu")
    }
    assert "seen in an evaluation sample" in pages["en"] and org.legal_name in pages["en"]
    assert "मूल्यांकन के नमूने में देखा गया" in pages["hi"]
    assert "kubonwe esampulini yokuhlola" in pages["zu"]
    for lang in ("hi", "zu"):
        assert "seen in an evaluation sample" not in pages[lang]
    with services.uow() as uow:
        assert uow.get(Item, photos[0].id).kind is ItemKind.PHOTO


def test_the_order_page_shows_a_sample_in_the_buyers_language_and_the_limit_in_words(
    client, services, people
):
    services.settings.evaluation_sample_limit = 3
    trainer, org, order, _photos = _declared(client, services, people, photos=2)
    page = client.get(f"/buyer/orders/{order['id']}?lang=hi", headers=trainer.headers)
    assert "खरीदने से पहले चिह्नित नमूना देखें" in page.text
    shown = client.post(
        f"/buyer/orders/{order['id']}/sample?lang=hi",
        headers=trainer.headers,
        data={"items": "2"},
    )
    assert shown.status_code == 200, shown.text
    assert shown.text.count('<img src="data:image/jpeg;base64,') == 2
    assert "आपके संगठन ने नमूनों में देखे गए आइटम: 3 में से 2" in shown.text
    assert "बिना पूर्वावलोकन वाले आइटम" in shown.text  # the walk video
    assert org.legal_name in shown.text
    assert "Evaluation sample" not in shown.text
    passport = client.get(f"/api/items/{_photos[0].id}/passport", headers=people["owner"].headers)
    assert passport.status_code == 200
    refused = client.post(
        f"/buyer/orders/{order['id']}/sample?lang=zu",
        headers=trainer.headers,
        data={"items": "2"},
    )
    assert refused.status_code == 409
    assert "Inhlangano yakho ingabona izinto ezingu-3 kumasampula futhi isibone ezingu-2." in (
        refused.text
    )
    with services.uow() as uow:
        assert uow.count(EvaluationSample, org_id=org.id) == 2
