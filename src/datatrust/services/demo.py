"""Demo data a newcomer can click through, made only through the services a person's
clicks would call (nothing is written to a table directly) and generated on the spot
(nothing downloaded).

``seed_demo`` gives the instance:

- the five demo people (password ``DEMO_PASSWORD``) and the buyer's approved organisation;
- two open tasks, each funded in escrow through the payment rail before it opened: the
  platform's "Street sounds of your neighbourhood" (ambient audio, paid per item plus a
  coverage bonus, peer-reviewed) and the buyer's "Read a short story aloud" (voice, paid
  per minute, reviewed by an operator);
- a street recording from each contributor, processed by the real pipeline, licensed
  training-only with consent given, voted through by the other two contributors (so
  listed and paid) — and one more of Priya's still waiting on the review page;
- the buyer's declared training use and its purchase, so there is a sale, royalties on
  the contributors' statements and "selected"/"sold" steps in the items' passports;
- Marcus's bank account as his payout method and his first payout (the instance's
  minimum), requested and, when a payout provider is given, sent and settled.

Every step first looks for what it would make, so running it again makes nothing new.
"""

from __future__ import annotations

import io
import logging
import time
import wave
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import numpy as np

from datatrust.domain.accounts import User
from datatrust.domain.campaigns import Campaign, CampaignState
from datatrust.domain.clock import utcnow
from datatrust.domain.errors import Conflict
from datatrust.domain.ids import id_of
from datatrust.domain.items import Item, ItemStatus
from datatrust.domain.jobs import JobState, OutboxJob
from datatrust.domain.ledger import AccountRef
from datatrust.domain.money import Money
from datatrust.domain.permissions import Actor, Role
from datatrust.domain.policy import InstancePolicy
from datatrust.services import accounts, campaigns, contributions, licensing, market, money
from datatrust.services.accounts import actor_for
from datatrust.services.contributions import processing_key
from datatrust.services.licensing import Publication
from datatrust.services.money import PaymentRail, PayoutProvider
from datatrust.services.ports import PasswordHasher, Signer, UnitOfWork
from datatrust.services.storage import EncryptedStorage

DEMO_PASSWORD = "datatrust-demo"
OPERATOR = "operator@demo.datatrust"
BUYER = "buyer@demo.datatrust"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DemoPerson:
    email: str
    role: Role
    name: str
    language: str
    country: str


PEOPLE = (
    DemoPerson("sipho@demo.datatrust", Role.CONTRIBUTOR, "Sipho (Cape Town)", "zu", "ZA"),
    DemoPerson("priya@demo.datatrust", Role.CONTRIBUTOR, "Priya (Ranchi)", "hi", "IN"),
    DemoPerson("marcus@demo.datatrust", Role.CONTRIBUTOR, "Marcus (Chicago)", "en", "US"),
    DemoPerson(BUYER, Role.BUYER, "Ada Lab data team", "en", "GB"),
    DemoPerson(OPERATOR, Role.OPERATOR, "Instance operator", "en", "ZA"),
)
CONTRIBUTORS = tuple(p.email for p in PEOPLE if p.role is Role.CONTRIBUTOR)

# The two open tasks: ``create_campaign``'s arguments, and who runs each.
STREET_SOUNDS: dict[str, Any] = {
    "title": "Street sounds of your neighbourhood",
    "description": "A minute or less of the street where you live: traffic, birds, a market. "
    "Nobody talking close to the phone; speech further away is muffled for you.",
    "kind": "ambient",
    "rate_minor": 150,
    "currency": "USD",
    "quota": 50,
    "pay_basis": "per_item",
    "coverage_bonus_minor": 50,
    "expected_minutes_per_item": 5,
    "spec": {"min_duration_s": 5, "max_duration_s": 60},
    "review_mode": "peer",
    "licence_template": "training_only",
}
VOICE_STORY: dict[str, Any] = {
    "title": "Read a short story aloud",
    "description": "Read any short story in your own language, in a quiet room, for up to "
    "five minutes. Paid by the second of reading, at the rate per minute.",
    "kind": "voice",
    "rate_minor": 40,
    "currency": "USD",
    "quota": 40,
    "pay_basis": "per_minute",
    "expected_minutes_per_item": 2,
    "spec": {"min_duration_s": 10, "max_duration_s": 300},
    "review_mode": "operator",
    "licence_template": "training_only",
}


@dataclass(frozen=True)
class DemoRecording:
    """A street recording a contributor sent to the street-sounds task. ``voted_through``:
    the other contributors up-vote it (listed and paid); otherwise it waits on /review."""

    owner: str
    title: str
    seed: int
    lat: float
    lng: float
    price_minor: int
    voted_through: bool = True


RECORDINGS = (
    DemoRecording("sipho@demo.datatrust", "Long Street at rush hour", 1, -33.9249, 18.4241, 120),
    DemoRecording("priya@demo.datatrust", "Main Road market, Ranchi", 2, 23.3441, 85.3096, 100),
    # Marcus licenses his at $20.00: his royalty from the sale and his pay for the task take
    # him past the payout minimum, so the demo shows a contributor actually paid.
    DemoRecording("marcus@demo.datatrust", "The L passing overhead", 3, 41.8781, -87.6298, 2000),
    DemoRecording(
        "priya@demo.datatrust", "Evening birds by the lake", 4, 23.3700, 85.3300, 100, False
    ),
)
# The buyer's declared use (its organisation declared model training in technology).
TRAINING_USE = {
    "action": "train",
    "purpose": "model_training",
    "industry": "technology",
    # What the model will do is part of the use (issue 16 §2): scenes, never people.
    "task": "scene_understanding",
    "outputs": ["labels"],
}
BUYER_TOP_UP = Money(50_000, "USD")


class DemoServices(Protocol):
    """What seeding needs from the bootstrapped ``Services``."""

    settings: Any
    policy: InstancePolicy
    storage: EncryptedStorage
    hasher: PasswordHasher
    signer: Signer

    @property
    def publication(self) -> Publication: ...
    def uow(self) -> UnitOfWork: ...
    def run_job(self, job_id: int) -> str: ...


def seed_demo(
    services: DemoServices, rail: PaymentRail, payout_provider: PayoutProvider | None = None
) -> list[DemoPerson]:
    """Seed everything the module docstring lists; safe to run again (nothing new is made,
    nothing is charged twice, nobody is paid twice). ``rail`` takes the escrow and the
    buyer's top-up; ``payout_provider`` sends Marcus's payout (without one it waits)."""
    _create_people(services)
    _vet_buyer(services)
    street = _open_task(services, rail, OPERATOR, STREET_SOUNDS)
    _open_task(services, rail, BUYER, VOICE_STORY)
    for recording in RECORDINGS:
        item_id = _record(services, street, recording)
        if item_id is None:
            continue
        _give_consent(services, recording, item_id)
        if recording.voted_through:
            _vote_through(services, street, item_id)
    _buy_for_training(services, rail)
    _pay_out(services, payout_provider)
    return list(PEOPLE)


# --------------------------------------------------------------------------- the steps


def _actor(services: DemoServices, email: str) -> Actor:
    with services.uow() as uow:
        user = uow.one(User, email=email)
        assert user is not None, email
        return actor_for(uow, user)


def _create_people(services: DemoServices) -> None:
    for person in PEOPLE:
        with services.uow() as uow:
            if uow.one(User, email=person.email) is None:
                accounts.sign_up(
                    uow,
                    services.hasher,
                    email=person.email,
                    password=DEMO_PASSWORD,
                    role=person.role,
                    display_name=person.name,
                    language=person.language,
                    country=person.country,
                    allow_operator=True,
                )


def _vet_buyer(services: DemoServices) -> None:
    buyer, operator = _actor(services, BUYER), _actor(services, OPERATOR)
    if buyer.org_id is not None:
        return
    with services.uow() as uow:
        org = accounts.register_organisation(
            uow,
            buyer,
            legal_name="Ada Lab Ltd",
            country="GB",
            website="https://ada-lab.example",
            contact_email="data@ada-lab.example",
            intended_uses={"purposes": ["model_training"], "industries": ["technology"]},
        )
        accounts.decide_organisation(uow, operator, id_of(org), "approve")


def _open_task(
    services: DemoServices, rail: PaymentRail, manager: str, terms: dict[str, Any]
) -> int:
    """Create the campaign (once, found again by title), fund what opening needs in escrow
    through ``rail`` and open it."""
    actor = _actor(services, manager)
    with services.uow() as uow:
        campaign = uow.one(Campaign, title=terms["title"], created_by=actor.user_id)
        if campaign is None:
            campaign = campaigns.create_campaign(uow, actor, **terms)
        campaign_id = campaign.id or 0
        if campaign.state is not CampaignState.DRAFT:
            return campaign_id
        held = money.escrow_balance(uow, campaign_id, campaign.currency)
        shortfall = money.required_escrow(campaign) - held
    if shortfall.is_positive:
        with services.uow() as uow:
            money.fund_campaign_escrow(uow, rail, actor, campaign_id, shortfall, "demo-escrow")
    with services.uow() as uow:
        floors = services.policy.pay_floors
        campaigns.open_campaign(uow, actor, campaign_id, floors)
    return campaign_id


def _record(services: DemoServices, campaign_id: int, recording: DemoRecording) -> int | None:
    """Upload the recording to the task (once) and run its processing job now: the job
    consumer of ``serve`` starts only after seeding, and later finds the job done. Where
    workers already run (a cluster seeded while it starts), one of them may claim the job
    first: then this waits for that run to end. Returns the item's id, or None (logged)
    if the pipeline rejected it: the demo goes on without it rather than stopping
    ``serve``."""
    actor = _actor(services, recording.owner)
    with services.uow() as uow:
        # Titles are sealed at rest (a fresh nonce each time): compare them opened.
        item = next(
            (
                i
                for i in uow.all(Item, owner_id=actor.user_id, campaign_id=campaign_id)
                if services.storage.open_text(uow, i.owner_id, i.title) == recording.title
            ),
            None,
        )
        if item is None:
            item = contributions.receive_item(
                uow,
                services.storage,
                actor,
                kind="ambient",
                filename="street.wav",
                content_type="audio/wav",
                chunks=[street_sound(recording.seed)],
                title=recording.title,
                campaign_id=campaign_id,
                metadata={"lat": recording.lat, "lng": recording.lng},
            )
        item_id = item.id or 0
        job = uow.one(OutboxJob, idempotency_key=processing_key(item_id))
        waiting = item.status is ItemStatus.RECEIVED and job is not None
    if waiting:
        assert job is not None and job.id is not None
        if services.run_job(job.id) == "skipped":
            _wait_for_job(services, job.id)
    with services.uow() as uow:
        item = contributions.get_item(uow, actor, item_id)
        if item.status in (ItemStatus.ACCEPTED, ItemStatus.LISTED):
            return item_id
        log.warning(
            "demo recording %r was %s: %s",
            recording.title,
            item.status.value,
            item.report.get("reasons"),
        )
        return None


def _wait_for_job(services: DemoServices, job_id: int, poll_seconds: float = 0.2) -> None:
    """Until the job is done or failed, or its lease (after which the sweeper runs it
    again) has passed: the caller then reports the item as it finds it."""
    deadline = time.monotonic() + services.settings.job_lease_seconds
    while time.monotonic() < deadline:
        with services.uow() as uow:
            row = uow.get(OutboxJob, job_id)
            if row is None or row.state in (JobState.DONE, JobState.FAILED):
                return
        time.sleep(poll_seconds)


def _give_consent(services: DemoServices, recording: DemoRecording, item_id: int) -> None:
    """License the item under the task's template (training only) at the recording's
    price, and give consent: what "Accept and start" on a task does."""
    actor = _actor(services, recording.owner)
    with services.uow() as uow:
        item = contributions.get_item(uow, actor, item_id)
        if item.consent_id is not None:
            return
        offer = licensing.create_offer(
            uow,
            actor,
            template=STREET_SOUNDS["licence_template"],
            changes={"price_minor": recording.price_minor},
        )
        licensing.give_consent_for_item(
            uow,
            services.signer,
            actor,
            item_id,
            offer_id=offer.id,
            publication=services.publication,
        )


def _vote_through(services: DemoServices, campaign_id: int, item_id: int) -> None:
    """Up-votes from the other contributors until the peers' rule lists (and pays) it."""
    for email in CONTRIBUTORS:
        reviewer = _actor(services, email)
        with services.uow() as uow:
            queue = campaigns.review_queue(uow, reviewer, campaign_id)
            if any(entry.item_id == item_id for entry in queue):
                campaigns.submit_review(
                    uow,
                    reviewer,
                    campaign_id,
                    item_id,
                    up=True,
                    note="Clear, no voices.",
                    storage=services.storage,
                )


def _buy_for_training(services: DemoServices, rail: PaymentRail) -> None:
    """The buyer tops up its funds, declares a year of model training and buys what the
    licences allow (once: a purchased order means it was done)."""
    buyer = _actor(services, BUYER)
    with services.uow() as uow:
        if any(o.bought for o in market.list_orders(uow, buyer)):
            return
        money.deposit_buyer_funds(uow, rail, buyer, BUYER_TOP_UP, "demo-top-up")
    start = utcnow().replace(microsecond=0)
    use = {
        **TRAINING_USE,
        "territory": "GB",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(days=365)).isoformat(),
    }
    with services.uow() as uow:
        order = market.declare_order(
            uow,
            buyer,
            use,
            policy=services.policy,
        )
    if not order.item_ids:
        return
    with services.uow() as uow:
        try:
            market.purchase_order(
                uow,
                buyer,
                id_of(order),
                policy=services.policy,
            )
        except Conflict:  # nothing left to buy (a withdrawal meanwhile): the quote stays
            return


PAID = "marcus@demo.datatrust"
PAID_BANK_ACCOUNT = {
    "account_holder": "Marcus Reed",
    "account_number": "000123456789",
    "bank_code": "021000021",
}


def _pay_out(services: DemoServices, provider: PayoutProvider | None) -> None:
    """Marcus adds his bank account and asks for the instance's minimum payout (once, by
    its key), then the batch sends it through ``provider``. The account is told as
    having been added a holding period ago (``InstancePolicy.payout_method_hold``), so
    the story's payout can go to it at once."""
    actor = _actor(services, PAID)
    minimum = services.policy.minimum_payout
    hold = services.policy.payout_method_hold
    with services.uow() as uow:
        methods = money.payout_methods(uow, actor)
        if not methods:
            method = money.add_payout_method(
                uow,
                services.storage,
                actor,
                "bank_transfer",
                PAID_BANK_ACCOUNT,
                hasher=services.hasher,
                password=DEMO_PASSWORD,
                hold=hold,
            )
            method.created_at = utcnow() - hold
            uow.commit()
        else:
            method = methods[-1]
        available = uow.ledger.balance(AccountRef.contributor_payable(actor.uid, minimum.currency))
        done = any(p.idempotency_key == "demo-first-payout" for p in money.list_payouts(uow, actor))
        if not done and available >= minimum:
            money.request_payout_to(
                uow,
                actor,
                minimum,
                "demo-first-payout",
                method_id=id_of(method),
                minimum=minimum,
                hold=hold,
            )
    if provider is not None:
        money.run_payout_batch(
            services.uow, provider, destinations=money.destination_for(services.storage, hold)
        )


# --------------------------------------------------------------------------- sample media


def street_sound(seed: int, seconds: float = 6.0, rate: int = 16_000) -> bytes:
    """Street-like ambient audio as 16-bit mono WAV: a brown-noise rumble under a faint
    hiss, different for each ``seed`` (no two demo recordings are near-duplicates), at a
    fixed loudness (about -39 LUFS) and with nothing the voice detector takes for speech
    (bird-like chirps were: the pipeline then rejects the clip). Made here; nothing is
    downloaded."""
    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    rumble = np.cumsum(rng.standard_normal(n))
    rumble -= np.convolve(rumble, np.ones(rate // 10) / (rate // 10), mode="same")
    signal = rumble / np.sqrt(np.mean(rumble**2)) * 0.03 + 0.005 * rng.standard_normal(n)
    pcm = (np.clip(signal, -1, 1) * 32767).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
    return out.getvalue()
