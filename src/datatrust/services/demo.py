"""Demo data: people from the seed story and sample items generated on the spot."""

from __future__ import annotations

import io
import math
import struct
import wave
from dataclasses import dataclass

from datatrust.domain.accounts import User
from datatrust.domain.permissions import Role
from datatrust.services import accounts, items
from datatrust.services.accounts import actor_for
from datatrust.services.ports import PasswordHasher, UnitOfWorkFactory
from datatrust.services.storage import EncryptedStorage

DEMO_PASSWORD = "datatrust-demo"


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
    DemoPerson("buyer@demo.datatrust", Role.BUYER, "Ada Lab data team", "en", "GB"),
    DemoPerson("operator@demo.datatrust", Role.OPERATOR, "Instance operator", "en", "ZA"),
)


def sample_wav(seconds: float = 2.0, frequency: float = 440.0, rate: int = 16000) -> bytes:
    """A pure tone as 16-bit mono WAV: demo audio made here, nothing downloaded."""
    frames = b"".join(
        struct.pack("<h", int(12000 * math.sin(2 * math.pi * frequency * n / rate)))
        for n in range(int(seconds * rate))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return out.getvalue()


def seed_demo(
    uow_factory: UnitOfWorkFactory, hasher: PasswordHasher, storage: EncryptedStorage
) -> list[DemoPerson]:
    """Create the demo people (skipping any that exist), a vetted buyer organisation and
    a sample item per contributor. Safe to run twice."""
    created: dict[str, User] = {}
    for person in PEOPLE:
        with uow_factory() as uow:
            user = uow.one(User, email=person.email)
            if user is None:
                user = accounts.sign_up(
                    uow,
                    hasher,
                    email=person.email,
                    password=DEMO_PASSWORD,
                    role=person.role,
                    display_name=person.name,
                    language=person.language,
                    country=person.country,
                    allow_operator=True,
                )
            created[person.email] = user
    with uow_factory() as uow:
        buyer = actor_for(uow, created["buyer@demo.datatrust"])
        operator = actor_for(uow, created["operator@demo.datatrust"])
        if buyer.org_id is None:
            org = accounts.register_organisation(
                uow,
                buyer,
                legal_name="Ada Lab Ltd",
                country="GB",
                website="https://ada-lab.example",
                contact_email="data@ada-lab.example",
                intended_uses={"purposes": ["model_training"], "industries": ["technology"]},
            )
            accounts.decide_organisation(uow, operator, org.id, "approve")
    for person in PEOPLE:
        if person.role is not Role.CONTRIBUTOR:
            continue
        with uow_factory() as uow:
            actor = actor_for(uow, created[person.email])
            if items.list_my_items(uow, actor):
                continue
            items.receive_item(
                uow,
                storage,
                actor,
                kind="ambient",
                filename="street-sound.wav",
                content_type="audio/wav",
                chunks=[sample_wav(frequency=330.0 + 110 * len(person.name) % 220)],
                title=f"Street sound, {person.name}",
            )
    return list(PEOPLE)
