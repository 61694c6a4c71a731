"""Issue 16 §1: a build judges the organisation that receives the data, which must be the
agreement's licensee (an affiliate is another organisation)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from datatrust.domain.accounts import Organisation
from datatrust.domain.items import ItemStatus
from datatrust.domain.licence import licence_from_template
from datatrust.domain.orders import AgreementRow
from datatrust.services.market import snapshots

T0 = datetime(2027, 1, 4, tzinfo=UTC)


class NothingStored:
    """A unit of work holding no consent and no revocation: only the licensee rule and
    the licence decide what ``_why_not`` says here."""

    def get(self, cls, ident):
        return None

    def one(self, cls, **filters):
        return None

    def all(self, cls, **filters):
        return []


class AnItem:
    status = ItemStatus.LISTED
    consent_id = None
    deidentified_key = "k"
    id = 5


def an_agreement(**licence_changes):
    terms = licence_from_template(
        "training_only", id="lic-1", valid_from=T0, price_minor=100, **licence_changes
    )
    use = {
        "action": "train",
        "purpose": "speech_recognition_training",
        "industry": "technology",
        "territory": "ZA",
        "declared_uses": [],
        "task": "speech_recognition",
        "outputs": ["transcript"],
        "starts_at": T0.isoformat(),
        "ends_at": (T0 + timedelta(days=90)).isoformat(),
        "recipient_org": {"id": "7", "name": "Ada Lab"},
    }
    return AgreementRow(
        order_id=1,
        org_id=7,
        item_id=5,
        contributor_id=3,
        offer_id=11,
        consent_id=None,
        licence=terms.to_dict(),
        use=use,
        price_minor=100,
        fee_minor=0,
        contributor_share_minor=50,
        currency="USD",
        content_sha256="0" * 64,
    )


def org(ident, name):
    return Organisation(id=ident, legal_name=name, country="ZA")


def why_not(agreement, recipient):
    item = AnItem()
    standing = snapshots._standing_of(NothingStored(), [agreement], [item])
    return snapshots._why_not(standing, agreement, item, T0 + timedelta(days=1), recipient)


def test_a_build_for_an_affiliate_of_the_licensee_drops_the_item():
    agreement = an_agreement()
    assert "recipient_not_licensee" not in why_not(agreement, org(7, "Ada Lab"))
    assert "recipient_not_licensee" in why_not(agreement, org(8, "Ada Lab Europe"))


def test_a_build_judges_the_recipient_against_the_offer_and_its_exclusivity():
    exclusive = an_agreement(
        exclusive=True, exclusive_to="9", exclusive_until=T0 + timedelta(days=200)
    )
    assert "exclusive_to_another" in why_not(exclusive, org(7, "Ada Lab"))
    named = an_agreement(offered_to={"7"})
    assert "recipient_not_offered" not in why_not(named, org(7, "Ada Lab"))
    assert "recipient_not_offered" in why_not(named, org(8, "Ada Lab Europe"))
