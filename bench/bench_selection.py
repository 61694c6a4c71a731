"""Selection for a declared use vs a plain indexed query, same database, same run.

Builds N items (default 100,000) spread over ~20 licence variants (purposes, industries,
territories, end dates, prices), 5% of them withdrawn, on SQLite and on PostgreSQL (when
``DATATRUST_TEST_PG_URL`` is reachable), with the schema built by the migrations. Then,
alternating, several rounds each:

  selection  ``orders.select_for_use``: every listed (and withdrawn) item's licence and
             consent evaluated per item, failing closed, with the reason breakdown;
  baseline   ``SELECT id FROM items WHERE status='listed' AND kind='video'`` through the
             (status, kind) index, every row fetched.

Reports the medians and the ratio (target: selection ≤ 2 s at 1M, ≤ 3× the baseline).
Run:  uv run python bench/bench_selection.py [N ...]     e.g. 100000 1000000
Prints a table and one JSON line per database and size.
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text
from sqlalchemy.orm import sessionmaker

from datatrust.adapters.db import migrate
from datatrust.adapters.db.engine import make_engine
from datatrust.adapters.db.tables import map_domain
from datatrust.adapters.db.tables.accounts import users
from datatrust.adapters.db.tables.consent import licence_offers
from datatrust.adapters.db.uow import SqlUnitOfWork
from datatrust.domain.licence import Organisation, Use, licence_from_template
from datatrust.services.market.orders import DeclaredUse, select_for_use

ROUNDS = 3
NOW = datetime(2026, 6, 1, tzinfo=UTC)
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def variants() -> list[dict]:
    """~20 licence variants: templates × price × territory × term."""
    out = []
    start = NOW - timedelta(days=30)
    for i in range(20):
        template = ["training_only", "research_non_commercial", "likeness_advertising"][i % 3]
        changes = {"id": f"bench-{i}", "valid_from": start, "price_minor": 100 + 10 * i}
        if template == "likeness_advertising":
            changes["valid_until"] = start + timedelta(days=300)
        if i % 4 == 1:
            changes["territories"] = {"GB", "ZA", "IN"}
        if i % 5 == 2:
            changes["valid_until"] = start + timedelta(days=60)  # ends inside the period
        out.append(licence_from_template(template, **changes).to_dict())
    return out


def populate(engine, n: int) -> None:
    rng = random.Random(7)
    now = NOW
    with engine.begin() as c:
        c.execute(
            insert(users),
            [
                {
                    "id": 1,
                    "email": "bench@example.org",
                    "password_hash": "x",
                    "role": "contributor",
                    "display_name": "",
                    "language": "en",
                    "created_at": now,
                }
            ],
        )
        c.execute(
            insert(licence_offers),
            [
                {
                    "id": i + 1,
                    "owner_id": 1,
                    "version": 1,
                    "supersedes_id": None,
                    "status": "active",
                    "licence": lic,
                    "is_default": False,
                    "created_at": now,
                }
                for i, lic in enumerate(variants())
            ],
        )
    # Items and consent records go in as plain tuples through the driver's executemany
    # (no ORM, no per-row dicts).
    mark = "?" if engine.dialect.name == "sqlite" else "%s"
    item_cols = (
        "id, owner_id, kind, status, title, filename, content_type, size, original_key, "
        "original_sha256, report, created_at, updated_at, licence_id, consent_id, "
        "consent_offer_id, consent_state, deidentified_key"
    )
    consent_cols = "id, uid, owner_id, item_id, offer_id, state, fields, created_at, updated_at"
    item_sql = f"INSERT INTO items ({item_cols}) VALUES ({', '.join([mark] * 18)})"
    consent_sql = f"INSERT INTO consent_records ({consent_cols}) VALUES ({', '.join([mark] * 9)})"
    kinds = ["photo", "voice", "chat"]
    batch = 50_000
    for lo in range(0, n, batch):
        rows, consents = [], []
        for i in range(lo + 1, min(n, lo + batch) + 1):
            offer = rng.randrange(20) + 1
            withdrawn = rng.random() < 0.05
            kind = "video" if rng.random() < 0.6 else rng.choice(kinds)
            status = "withdrawn" if withdrawn else "listed"
            state = "withdrawn" if withdrawn else "active"
            sha = "0" * 64
            common = (i, 1, kind, status, "", "f", "video/mp4", 1, "k", sha, "{}", now, now)
            # licence, consent, its mirror; a listed item always has a de-identified version
            rows.append((*common, offer, i, offer, state, f"d{i}"))
            consents.append((i, f"{i:032x}", 1, i, offer, state, "{}", now, now))
        with engine.begin() as c:
            c.exec_driver_sql(item_sql, rows)
            c.exec_driver_sql(consent_sql, consents)
    # Statistics for both planners, as a deployment's routine maintenance keeps them.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE"))


def time_it(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run(url: str, n: int, label: str) -> dict:
    engine = make_engine(url)
    migrate.upgrade(engine)
    map_domain()
    t0 = time.perf_counter()
    populate(engine, n)
    load_s = time.perf_counter() - t0
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    declared = DeclaredUse(
        Use("train", "model_training", "technology", "GB", Organisation("1", "Bench Ltd"), NOW),
        NOW,
        NOW + timedelta(days=90),
    )
    result = {}

    def selection() -> None:
        with SqlUnitOfWork(factory) as uow:
            result["sel"] = select_for_use(uow, declared)

    def baseline() -> None:
        with engine.connect() as c:
            result["base"] = c.execute(
                text("SELECT id FROM items WHERE status = 'listed' AND kind = 'video'")
            ).fetchall()

    sel_t, base_t = [], []
    for _ in range(ROUNDS):
        base_t.append(time_it(baseline))
        sel_t.append(time_it(selection))
    engine.dispose()
    s, b = statistics.median(sel_t), statistics.median(base_t)
    sel = result["sel"]
    return {
        "db": label,
        "items": n,
        "load_s": round(load_s, 1),
        "selection_s": round(s, 3),
        "baseline_s": round(b, 4),
        "ratio": round(s / b, 1),
        "selected": len(sel.item_ids),
        "excluded": sel.excluded,
        "baseline_rows": len(result["base"]),
        "reasons": sel.reasons,
    }


def pg_url() -> str | None:
    try:
        admin = make_engine(PG_ADMIN).execution_options(isolation_level="AUTOCOMMIT")
        name = f"dt_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    except Exception:
        return None


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [100_000]
    rows = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            rows.append(run(f"sqlite:///{Path(tmp) / 'bench.db'}", n, "sqlite"))
        url = pg_url()
        if url:
            rows.append(run(url, n, "postgresql"))
            admin = make_engine(PG_ADMIN).execution_options(isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
            admin.dispose()
    print("| db | items | selection s | baseline s | ratio | selected | excluded |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['db']} | {r['items']:,} | {r['selection_s']} | {r['baseline_s']} | "
            f"{r['ratio']}× | {r['selected']:,} | {r['excluded']:,} |"
        )
    for r in rows:
        print(json.dumps(r))


if __name__ == "__main__":
    main()
