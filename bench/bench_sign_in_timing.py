"""Whether sign-in and sign-up take the same time for a known and an unknown email
(issue 14 §5: sign-in took 237 ms for a real email and 10 ms for an unknown one).

Builds the app over a temporary SQLite instance with the production Argon2id cost (time 3,
64 MiB), one account, and throttling loosened so no try is refused; then alternates, in
the same run, a wrong password for the real email and for unknown ones, through the HTTP
API in process (``TestClient``), and likewise sign-up with the taken email and new ones
(the mail job is only queued, as with a real worker). Reports each median and the ratio
known/unknown, which is what matters on a noisy shared machine.
Run: ``uv run python bench/bench_sign_in_timing.py [--rounds 25]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from datatrust.bootstrap import build
from datatrust.config import Settings
from datatrust.services.accounts import accounts
from datatrust.web.app import create_app

PASSWORD = "correct horse battery"


def timed(call) -> float:  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    response = call()
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code in (401, 202), response.text
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=25)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            dev_mode=True,
            data_dir=Path(tmp),
            queue_backend="sqlite",
            embedded_worker=False,
            sign_in_free_failures=10_000,
            sign_in_client_free_failures=10_000,
            sign_up_client_free_requests=10_000,  # one client here makes every request
        )
        services = build(settings)
        with services.uow() as uow:
            accounts.sign_up(uow, services.hasher, email="real@example.org", password=PASSWORD)
        client = TestClient(create_app(services, start_worker=False))
        sign_in = {"known": [], "unknown": []}
        sign_up = {"known": [], "unknown": []}
        for n in range(rounds):
            for kind, email in (("known", "real@example.org"), ("unknown", f"no{n}@example.org")):
                body = {"email": email, "password": "wrong guess"}
                sign_in[kind].append(timed(lambda b=body: client.post("/api/auth/sign-in", json=b)))
                body = {"email": email, "password": PASSWORD}
                sign_up[kind].append(timed(lambda b=body: client.post("/api/auth/sign-up", json=b)))
        report = {}
        for name, times in (("sign_in", sign_in), ("sign_up", sign_up)):
            known, unknown = statistics.median(times["known"]), statistics.median(times["unknown"])
            report[name] = {
                "known_ms": round(known, 1),
                "unknown_ms": round(unknown, 1),
                "ratio_known_to_unknown": round(known / unknown, 2),
            }
        print(json.dumps({"rounds": rounds, **report}, indent=2))
        services.close()


if __name__ == "__main__":
    main()
