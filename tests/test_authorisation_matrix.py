"""No route returns or changes what its caller may not see (DESIGN.md §5)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import ingest_media
from authz_matrix import DENIED, FRAMEWORK_PUBLIC, Matrix, declared_permission, flat_routes
from datatrust.domain.accounts import ApiToken, Organisation, User
from datatrust.domain.campaigns import Campaign
from datatrust.domain.clock import utcnow
from datatrust.domain.consent import ConsentRecord, LicenceOffer, Receipt
from datatrust.domain.invitations import ParticipantInvitation
from datatrust.domain.items import Item
from datatrust.domain.missed import MissedMark
from datatrust.domain.orders import AgreementRow, Order, ReplicaApproval
from datatrust.domain.payout_methods import PayoutMethod
from datatrust.domain.permissions import Actor, Permission, Role
from datatrust.domain.snapshots import Snapshot
from datatrust.domain.uploads import ResumableUpload
from datatrust.services.contributions import items, participants
from datatrust.services.licensing import consent, licences
from datatrust.services.trust import incidents
from datatrust.web.app import create_app
from datatrust.web.deps import requires, uow
from support import add_payout_method, make_persona

VICTIM_TITLE = "victim-secret-walk-video"

# What the rules let a persona do to objects it does not own.
OPERATOR_ON_ORGS = frozenset(
    {
        ("GET /api/orgs/{org_id}", "operator"),
        ("POST /api/orgs/{org_id}/{decision}", "operator"),
        # Operators oversee every campaign: read, open or close it, see coverage and queue.
        ("GET /api/campaigns/{campaign_id}", "operator"),
        ("POST /api/campaigns/{campaign_id}/open", "operator"),
        ("POST /api/campaigns/{campaign_id}/close", "operator"),
        ("GET /api/campaigns/{campaign_id}/coverage", "operator"),
        ("GET /api/campaigns/{campaign_id}/review", "operator"),
        ("GET /api/campaigns/{campaign_id}/pay-floor", "operator"),
        # ...and on the campaign pages the same: progress, funding a platform's, open, close.
        ("GET /campaigns/{campaign_id}", "operator"),
        ("POST /campaigns/{campaign_id}/fund", "operator"),
        ("POST /campaigns/{campaign_id}/open", "operator"),
        ("POST /campaigns/{campaign_id}/close", "operator"),
        ("POST /campaigns/{campaign_id}/pause", "operator"),
        ("POST /campaigns/{campaign_id}/resume", "operator"),
        ("GET /api/orgs/{org_id}/invoices", "operator"),  # reconciling every buyer's books
        # The incident register is the operators' (issue 14 §6): nobody else's object.
        ("GET /api/incidents/{incident_id}", "operator"),
        ("POST /api/incidents/{incident_id}/notify", "operator"),
        ("POST /api/incidents/{incident_id}/close", "operator"),
        ("GET /api/incidents/{incident_id}/report", "operator"),
        ("POST /operator/incidents/{incident_id}", "operator"),
    }
)

# Public by design: a licence IRI answers anyone with that version's terms (the
# contributor only as a pseudonymous party IRI, no item): it is named in every buyer's
# manifest and agreement (issue 17 §1); a person's party IRI says "a person", nothing more.
PUBLIC_BY_DESIGN = frozenset(
    (f"GET {path}", persona)
    for path in ("/licences/{licence_id}/v{version}", "/parties/people/{user_id}.{check}")
    for persona in ("other", "buyer", "operator", "anonymous")
)


@pytest.fixture
def victim(services, people):
    """Objects that belong to the owner (a contributor) and to the buyer's organisation."""
    owner = people["owner"]
    with services.uow() as unit:
        item = items.receive_item(
            unit,
            services.storage,
            owner.actor,
            kind="ambient",
            filename="street.wav",
            content_type="audio/wav",
            chunks=[ingest_media.ambient(seed=21)],  # real audio: the pipeline accepts it
            title=VICTIM_TITLE,
        )
        token = unit.one(ApiToken, user_id=owner.actor.user_id)
    with services.uow() as unit:
        offer = licences.create_offer(
            unit, owner.actor, template="training_only", changes={"price_minor": 500}
        )
    with services.uow() as unit:
        given = consent.give_consent_for_item(
            unit, services.signer, owner.actor, item.id, offer_id=offer.id
        )
    other_org = make_persona(services, "victim-buyer", Role.BUYER, org=True)
    invitation_id, guessed_token = victim_invitation(services, item.id)
    with services.uow() as unit:
        incident = incidents.open_incident(
            unit,
            people["operator"].actor,
            title="lost laptop",
            description="",
            discovered_at=utcnow(),
            item_ids=[item.id],
        )
    approval_id = victim_replica_approval(services, item.id, owner.actor.user_id, other_org)
    # Where the owner is paid: only they may use or remove it.
    method = add_payout_method(
        services, owner.actor, "upi", {"account_holder": "O", "vpa": "owner@bank"}
    )
    return {
        "approval_id": approval_id,
        "method_id": method.id,
        "incident_id": incident.id,
        "invitation_id": invitation_id,
        "guessed_token": guessed_token,
        "item": item,
        "token": token,
        "org_id": other_org.actor.org_id,
        "offer_id": offer.id,
        "licence_id": offer.licence["id"],
        "consent_id": given.record.id,
        "receipt_id": given.receipt.id,
        "buyer_paths": victim_buyer_objects(
            services, other_org.actor.org_id, owner.actor.user_id, item.id, offer.id
        ),
        **victim_campaign_and_upload(services, owner, other_org.actor.org_id),
    }


def victim_replica_approval(services, item_id, owner_id, org_persona):
    """A replica use waiting for the owner's approval ("ask me each time", issue 16 §3):
    only the owner may see, approve or refuse it; the asking buyer may not decide it."""
    with services.uow() as unit:
        row = ReplicaApproval(
            item_id=item_id,
            owner_id=owner_id,
            org_id=org_persona.actor.org_id,
            org_name="Victim Buyer Ltd",
            use={"action": "create_replica", "replica": {"languages": ["en"]}},
        )
        unit.add(row)
        unit.commit()
        return row.id


def victim_invitation(services, item_id):
    """An invitation for a participant of the victim's item. The token in a link *is* the
    credential (whoever holds it is the participant), so the matrix calls the confirmation
    routes with a near miss of the real token, as anyone without the link would: it must
    open nothing, show nothing and change nothing. The real token's use is tested in
    tests/web/test_participants_api.py."""
    secret = services.settings.secret_key.get_secret_value().encode()
    with services.uow() as unit:
        [made] = participants.invite_participants(
            unit, secret, unit.get(Item, item_id), ["PARTICIPANT_1"]
        )
        unit.commit()
        token = participants.make_token(secret, made.nonce)
    guessed = token[:-1] + ("A" if token[-1] != "A" else "B")
    return made.id, guessed


def victim_campaign_and_upload(services, owner, org_id):
    """A draft campaign of the victim organisation (stored directly: it is not approved)
    and a resumable upload the owner started."""
    from datatrust.domain.campaigns import Campaign, PayBasis
    from datatrust.domain.items import ItemKind
    from datatrust.services.contributions import uploads

    with services.uow() as unit:
        campaign = Campaign(
            created_by=owner.actor.user_id,
            org_id=org_id,
            title="victim campaign",
            kind=ItemKind.AMBIENT,
            pay_basis=PayBasis.PER_ITEM,
            rate_minor=100,
            currency="USD",
            quota=10,
        )
        unit.add(campaign)
        unit.commit()
    staging = uploads.Staging(services.settings.data_dir / "uploads")
    with services.uow() as unit:
        upload = uploads.start_upload(
            unit,
            staging,
            owner.actor,
            length=10,
            metadata={"kind": "photo", "filename": "a.jpg", "title": VICTIM_TITLE},
        )
    return {"campaign_id": campaign.id, "upload_id": upload.id}


def victim_buyer_objects(services, org_id, owner_id, item_id, offer_id):
    """An order, agreement and snapshot of the victim buyer organisation (issue 5), stored
    directly: the victim organisation is not approved, so it could not order itself."""
    with services.uow() as unit:
        org = unit.get(Organisation, org_id)
        member = unit.all(User, order_by="-id", limit=1)[0]
        use = {
            "action": "train",
            "purpose": "model_training",
            "industry": "technology",
            "territory": "GB",
            "declared_uses": [],
            "starts_at": "2026-01-01T00:00:00+00:00",
            "ends_at": "2026-06-01T00:00:00+00:00",
            "recipient_org": {"id": str(org.id), "name": org.legal_name},
        }
        order = Order(
            org_id=org.id,
            created_by=member.id,
            use=use,
            item_ids=[item_id],
            excluded=0,
            reasons={},
            quote={},
            state="purchased",
        )
        unit.add(order)
        unit.flush()
        offer = unit.get(LicenceOffer, offer_id)
        agreement = AgreementRow(
            order_id=order.id,
            org_id=org.id,
            item_id=item_id,
            contributor_id=owner_id,
            offer_id=offer_id,
            consent_id=None,
            licence=offer.licence,
            use=use,
            price_minor=500,
            fee_minor=125,
            contributor_share_minor=250,
            currency="USD",
            content_sha256="0" * 64,
        )
        snapshot = Snapshot(
            org_id=org.id,
            order_id=order.id,
            created_by=member.id,
            version="1.0.0",
            item_ids=[item_id],
            dropped={},
            shard_count=1,
            state="ready",
            files={"croissant.json": {"sha256": "0", "size": 1}},
        )
        unit.add(agreement)
        unit.add(snapshot)
        unit.commit()
        return {
            "order_id": str(order.id),
            "agreement_id": str(agreement.id),
            "snapshot_id": str(snapshot.id),
            "name": "croissant.json",
        }


def victim_state(services, people, victim):
    def snapshot():
        with services.uow() as unit:
            item = unit.get(Item, victim["item"].id)
            token = unit.get(ApiToken, victim["token"].id)
            org = unit.get(Organisation, victim["org_id"])
            user = unit.get(User, people["owner"].actor.user_id)
            offer = unit.get(LicenceOffer, victim["offer_id"])
            record = unit.get(ConsentRecord, victim["consent_id"])
            campaign = unit.get(Campaign, victim["campaign_id"])
            upload = unit.get(ResumableUpload, victim["upload_id"])
            invitation = unit.get(ParticipantInvitation, victim["invitation_id"])
            approval = unit.get(ReplicaApproval, victim["approval_id"])
            method = unit.get(PayoutMethod, victim["method_id"])
            return (
                (approval.state, approval.decided_at),
                method.removed_at,
                unit.count(MissedMark, item_id=victim["item"].id),
                (invitation.state, invitation.decided_at),
                (campaign.state, campaign.title) if campaign else None,
                (upload.length, upload.item_id) if upload else None,
                (
                    offer.status,
                    offer.is_default,
                    offer.version,
                    unit.count(LicenceOffer, owner_id=user.id),
                ),
                (record.state, unit.count(Receipt, consent_id=record.id)),
                (item.licence_id, item.consent_id) if item else None,
                (item.status, item.title, item.size) if item else None,
                token.revoked_at if token else None,
                (org.status, org.status_reason) if org else None,
                (user.email, user.erased_at) if user else None,
            )

    return snapshot


def matrix_for(
    app, client, services, people, victim, allowed=OPERATOR_ON_ORGS | PUBLIC_BY_DESIGN
) -> Matrix:
    personas = {name: p.headers for name, p in people.items()} | {"anonymous": {}}
    roles = {name: p.actor.role for name, p in people.items()} | {"anonymous": Role.ANONYMOUS}
    return Matrix(
        app=app,
        client=client,
        headers=personas,
        roles=roles,
        path_values={
            "item_id": str(victim["item"].id),
            "token_id": str(victim["token"].id),
            "org_id": str(victim["org_id"]),
            "decision": "suspend",
            "offer_id": str(victim["offer_id"]),
            "consent_id": str(victim["consent_id"]),
            "receipt_id": str(victim["receipt_id"]),
            "campaign_id": str(victim["campaign_id"]),
            "upload_id": victim["upload_id"],
            "token": victim["guessed_token"],
            "incident_id": str(victim["incident_id"]),
            # The public IRIs of the victim's licence and of the victim as a party.
            "licence_id": victim["licence_id"],
            "version": "1",
            "user_id": str(people["owner"].actor.user_id),
            "check": services.publication.person_check(people["owner"].actor.user_id),
            "approval_id": str(victim["approval_id"]),
            "method_id": str(victim["method_id"]),
            **victim["buyer_paths"],
        },
        secrets=[VICTIM_TITLE, people["owner"].email, people["owner"].token],
        snapshot=victim_state(services, people, victim),
        allowed_on_others=allowed,
    )


def test_every_route_refuses_what_its_caller_may_not_see(client, services, people, victim):
    violations, calls = matrix_for(client.app, client, services, people, victim).run()
    assert violations == []
    # The matrix really exercised routes with the victim's objects in them.
    assert any("/api/items/" in c.path for c in calls)
    assert {c.persona for c in calls} == {"other", "buyer", "operator", "anonymous"}
    # Operator-only money routes (exchange rates) were tried, and refused to all others.
    fx = [c for c in calls if c.path == "/api/fx/rates"]
    refused = {(c.method, c.persona) for c in fx if c.status in DENIED}
    assert refused == {(m, p) for m in ("GET", "POST") for p in ("other", "buyer", "anonymous")}


def test_the_owner_can_reach_their_own_objects(client, people, victim):
    """The positive control: the same calls as the owner succeed, so refusals above are
    about ownership and not a broken route."""
    headers = people["owner"].headers
    item_id = victim["item"].id
    assert client.get(f"/api/items/{item_id}", headers=headers).json()["title"] == VICTIM_TITLE
    original = client.get(f"/api/items/{item_id}/original", headers=headers)
    assert original.status_code == 200 and original.content.startswith(b"RIFF")
    offer = client.get(f"/api/licences/{victim['offer_id']}", headers=headers)
    assert offer.status_code == 200 and offer.json()["id"] == victim["offer_id"]
    receipt = client.get(f"/api/receipts/{victim['receipt_id']}", headers=headers)
    assert receipt.status_code == 200 and receipt.json()["receipt"]
    waiting = client.get("/api/replica-approvals", headers=headers).json()
    assert [a["id"] for a in waiting] == [victim["approval_id"]]
    approved = client.post(
        f"/api/replica-approvals/{victim['approval_id']}/approve", headers=headers
    )
    assert approved.status_code == 200 and approved.json()["state"] == "approved"
    revoked = client.delete(f"/api/tokens/{victim['token'].id}", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]


def test_every_route_declares_a_permission(client):
    routes = [r for r in flat_routes(client.app) if r.path not in FRAMEWORK_PUBLIC]
    assert len(routes) > 10
    assert [r.path for r in routes if declared_permission(r) is None] == []


def test_a_route_without_a_permission_fails_the_matrix(services, people, victim):
    app = create_app(services, start_worker=False)

    @app.get("/api/leaky/{item_id}")
    def leaky(item_id: int):
        with services.uow() as unit:
            return {"title": unit.get(Item, item_id).title}

    with TestClient(app) as test_client:
        violations, _ = matrix_for(app, test_client, services, people, victim).run()
    assert any("/api/leaky/{item_id}: declares no permission" in v for v in violations)


def test_a_public_route_that_leaks_another_persons_item_fails_the_matrix(services, people, victim):
    app = create_app(services, start_worker=False)

    @app.get("/api/peek/{item_id}")
    def peek(item_id: int, _actor: Actor = requires(Permission.PUBLIC_READ), unit=uow):
        with services.uow() as u:
            return {"title": u.get(Item, item_id).title}

    with TestClient(app) as test_client:
        violations, _ = matrix_for(app, test_client, services, people, victim).run()
    leaks = [v for v in violations if "/api/peek/{item_id}" in v]
    assert leaks and all("victim" in v or "not the caller's" in v for v in leaks)
