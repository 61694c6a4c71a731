"""Selection by groups gives exactly the per-item answer: the same items, the same
exclusion counts per reason, whatever mix of licences and consent states the items have."""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import timedelta

import pytest

# The helpers of the licences service tests (pytest puts this folder on sys.path).
from test_licences_service import T0, a_training_use, an_item, training_offer

from datatrust.adapters.db import repositories
from datatrust.domain.consent import ConsentRecord, LicenceOffer
from datatrust.domain.errors import InvalidInput
from datatrust.domain.items import Item, ItemStatus
from datatrust.domain.licence import evaluate
from datatrust.services.licensing import consent, licences

UNTIL = T0 + timedelta(days=200)
# The server's time the selections are judged at (a value the service receives).
NOW = T0 + timedelta(days=10)


def judged_one_by_one(uow, use, at, until=None, among=None):
    """The specification: every candidate item judged on its own, failing closed."""
    candidates = [
        i
        for i in uow.all(Item, order_by="id")
        if i.status in (ItemStatus.LISTED, ItemStatus.WITHDRAWN)
        and (among is None or i.id in among)
    ]
    offers = {o.id: o for o in uow.all(LicenceOffer)}
    consents = {c.id: c for c in uow.all(ConsentRecord)}
    chosen, reasons, excluded = [], Counter(), 0
    for item in candidates:
        codes = set()
        if item.status is ItemStatus.WITHDRAWN:
            codes.add("item_withdrawn")
        elif not item.deidentified_key:
            codes.add(licences.NO_DEIDENTIFIED_VERSION)
        offer = offers.get(item.licence_id)
        record = consents.get(item.consent_id)
        if offer is None:
            codes.add("no_licence")
        if record is None:
            codes.add("no_consent")
        if offer is not None:
            try:
                terms = offer.terms()
            except InvalidInput:
                terms = None
                codes.add("licence_invalid")
            if terms is not None:
                if record is not None and record.offer_id != offer.id:
                    codes.add("consent_for_other_licence")
                state = str(record.state) if record is not None else "active"
                period = dataclasses.replace(use, until=until) if until else use
                decision = evaluate(terms, period, at, state=state)
                if not decision.allowed:
                    codes.update(str(c) for c in decision.codes)
        if codes:
            excluded += 1
            reasons.update(codes)
        else:
            chosen.append(item.id)
    return chosen, excluded, dict(sorted(reasons.items()))


@pytest.fixture
def a_mixed_catalogue(services, people):
    """Items covering every way a selection can say no, and two ways it says yes."""
    owner = people["owner"]
    good = training_offer(services, owner)
    short = training_offer(services, owner, valid_until=(T0 + timedelta(days=100)).isoformat())
    us_only_out = training_offer(services, owner, excluded_territories=["DE"])
    broken = training_offer(services, owner)
    made = {}
    for name, offer in [
        ("ok", good),
        ("ok2", good),
        ("short", short),
        ("territory", us_only_out),
        ("broken", broken),
        ("withdrawn", good),
        ("other_licence", good),
    ]:
        item = an_item(services, owner, title=name)
        with services.uow() as uow:
            consent.give_consent_for_item(
                uow, services.signer, owner.actor, item.id, offer_id=offer.id, at=T0
            )
        made[name] = item.id
    made["unlicensed"] = an_item(services, owner, title="unlicensed").id
    made["unconsented"] = an_item(services, owner, title="unconsented").id
    made["not_listed"] = an_item(services, owner, title="not listed", listed=False).id
    with services.uow() as uow:
        licences.attach_offer(uow, owner.actor, good.id, [made["unconsented"]])
    with services.uow() as uow:
        consent.withdraw_consent(uow, services.signer, owner.actor, made["withdrawn"])
    with services.uow() as uow:
        uow.get(Item, made["other_licence"]).licence_id = short.id  # consent was for `good`
        uow.get(LicenceOffer, broken.id).licence = {"no longer": "a licence"}
        uow.commit()
    return made


def test_grouped_selection_equals_judging_every_item_on_its_own(services, a_mixed_catalogue):
    made = a_mixed_catalogue
    use = a_training_use()
    with services.uow() as uow:
        got = licences.selectable_items(uow, use, NOW, until=UNTIL)
        expected = judged_one_by_one(uow, use, NOW, until=UNTIL)
    assert (got.item_ids, got.excluded, got.reasons) == expected
    assert set(got.item_ids) & set(made.values()) == {made["ok"], made["ok2"]}
    for code in (
        "licence_ends_within_period",
        "territory_excluded",
        "licence_invalid",
        "item_withdrawn",
        "consent_withdrawn",
        "consent_for_other_licence",
        "no_licence",
        "no_consent",
    ):
        assert got.reasons.get(code, 0) >= 1, code


def test_a_use_no_licence_permits_selects_nothing_and_counts_every_candidate(
    services, a_mixed_catalogue
):
    use = a_training_use(action="create_replica")
    with services.uow() as uow:
        got = licences.selectable_items(uow, use, NOW)
        expected = judged_one_by_one(uow, use, NOW)
    assert (got.item_ids, got.excluded, got.reasons) == expected
    assert got.item_ids == [] and got.reasons["action_not_permitted"] >= 1


def test_a_selection_among_given_ids_reads_them_in_chunks(services, a_mixed_catalogue, monkeypatch):
    monkeypatch.setattr(repositories, "IN_CHUNK", 2)  # every id list spans several statements
    among = set(a_mixed_catalogue.values()) - {a_mixed_catalogue["ok2"]}
    use = a_training_use()
    with services.uow() as uow:
        got = licences.selectable_items(uow, use, NOW, until=UNTIL, among=among)
        expected = judged_one_by_one(uow, use, NOW, until=UNTIL, among=among)
    assert (got.item_ids, got.excluded, got.reasons) == expected
    assert got.item_ids == [a_mixed_catalogue["ok"]]
    assert got.excluded == len(among) - 2  # everything but "ok" and the unlisted item


def test_a_listed_item_with_nothing_to_deliver_is_never_selected_and_says_why(
    services, people, a_mixed_catalogue
):
    # A row listed before the rule that keeps such items waiting: still never sold.
    with services.uow() as uow:
        empty = uow.get(Item, a_mixed_catalogue["ok2"])
        empty.deidentified_key = empty.deidentified_sha256 = None
        uow.commit()
    use = a_training_use()
    with services.uow() as uow:
        got = licences.selectable_items(uow, use, NOW)
        assert (got.item_ids, got.excluded, got.reasons) == judged_one_by_one(uow, use, NOW)
    assert a_mixed_catalogue["ok"] in got.item_ids
    assert a_mixed_catalogue["ok2"] not in got.item_ids
    assert got.reasons[licences.NO_DEIDENTIFIED_VERSION] == 1
