"""Anyone may fetch a signed checkpoint of the audit log and check it offline."""

from __future__ import annotations

from datatrust.adapters.crypto import verify_jws
from datatrust.domain.audit import GENESIS_HASH


def test_anyone_gets_a_signed_checkpoint_of_the_current_head(client, services):
    with services.uow() as unit:
        unit.record("instance:update", "system", "setting", "x", value=1)
        unit.commit()
        head = unit.audit.head()
    got = client.get("/api/audit/checkpoint")  # anonymous
    assert got.status_code == 200
    body = got.json()
    claims = verify_jws(body["checkpoint"], body["key"])
    assert claims["count"] == body["count"] == head.seq >= 1
    assert claims["head"] == body["head"] == head.hash != GENESIS_HASH
    assert body["key"] == services.signer.public_jwk()
