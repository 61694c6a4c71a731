"""A contributor's long lists (issue 18): "My items" for a person with N items (default
500), and the open tasks, measured as SQL statements, rows read and time per request.

Builds one SQLite database by the migrations, one contributor with N items (titles and
file names sealed under their key, as uploads store them; a mix of kinds and statuses)
and 60 open campaigns, then asks ``contributions.find_my_items`` and
``campaigns.open_tasks`` as the pages do: page 1 and a later page with no filter, with a
status, with a kind, with words searched for. Each case runs ROUNDS times; the medians
are reported.

Run:  uv run python bench/bench_my_items.py [N]
Prints a table and one JSON line.

Measured at N=500 on a shared 2-core machine (SQLite; median of 5, ms are noisy), before
(every row read, filtered in Python) and after (filters and paging in SQL):

  case              rows read   statements   ms
  items page 1      500 -> 20        3 -> 4   100 -> 6
  items page 5      500 -> 20        3 -> 4   110 -> 3
  items status      500 -> 20        3 -> 4    53 -> 6
  items kind        500 -> 20        3 -> 4    49 -> 6
  items words       500 -> 500       3 -> 3    97 -> 85  (titles sealed: searched here)
  items words+kind  500 -> 84        3 -> 3   180 -> 14
  tasks page 1       60 -> 20        2 -> 3    14 -> 9
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import event

from datatrust.bootstrap import build
from datatrust.config import Settings
from datatrust.domain.campaigns import Campaign, CampaignState, PayBasis
from datatrust.domain.items import Item, ItemKind, ItemStatus
from datatrust.domain.permissions import Role
from datatrust.services.accounts import accounts
from datatrust.services.campaigns import campaigns
from datatrust.services.contributions import find_my_items

ROUNDS = 5
KINDS = list(ItemKind)
STATUSES = [ItemStatus.ACCEPTED, ItemStatus.LISTED, ItemStatus.REJECTED, ItemStatus.WITHDRAWN]


def populate(svc: Any, n: int) -> Any:
    with svc.uow() as uow:
        user = accounts.sign_up(
            uow,
            svc.hasher,
            email="many@example.org",
            password="correct horse battery",
            role=Role.CONTRIBUTOR,
        )
        actor = accounts.actor_for(uow, user)
    with svc.uow() as uow:
        for i in range(n):
            owner = actor.uid
            uow.add(
                Item(
                    owner_id=owner,
                    kind=KINDS[i % len(KINDS)],
                    filename=svc.storage.seal_text(uow, owner, f"recording-{i}.bin"),
                    content_type="application/octet-stream",
                    size=100,
                    original_key=f"c/{owner}/items/x{i}",
                    original_sha256=f"{i:064d}",
                    status=STATUSES[i % len(STATUSES)],
                    title=svc.storage.seal_text(
                        uow, owner, f"Lobby {i} {'rain' if i % 7 == 0 else 'sun'}"
                    ),
                )
            )
        for i in range(60):
            uow.add(
                Campaign(
                    created_by=actor.uid,
                    org_id=None,
                    title=f"Task {i} {'rain' if i % 5 == 0 else ''}",
                    kind=KINDS[i % len(KINDS)],
                    pay_basis=PayBasis.PER_ITEM,
                    rate_minor=100,
                    currency="USD",
                    quota=10,
                    state=CampaignState.OPEN,
                )
            )
        uow.commit()
    return actor


class Counter:
    """SQL statements run (the engine's cursor executions) and item and campaign rows
    loaded into objects (the mapper's ``load`` event)."""

    def __init__(self, engine: Any) -> None:
        self.statements = 0
        self.rows = 0
        event.listen(engine, "after_cursor_execute", self._executed)
        for cls in (Item, Campaign):
            event.listen(cls, "load", self._loaded)

    def _executed(self, *_args: Any) -> None:
        self.statements += 1

    def _loaded(self, *_args: Any) -> None:
        self.rows += 1


def measure(svc: Any, counter: Counter, call: Any) -> dict[str, float]:
    times, statements, rows = [], [], []
    for _ in range(ROUNDS):
        before, loaded = counter.statements, counter.rows
        with svc.uow(read_only=True) as uow:
            start = time.perf_counter()
            found = call(uow)
            times.append(time.perf_counter() - start)
        statements.append(counter.statements - before)
        rows.append(counter.rows - loaded)
    return {
        "ms": round(statistics.median(times) * 1000, 2),
        "statements": statistics.median(statements),
        "rows_loaded": statistics.median(rows),
        "total": found.total,
        "shown": len(found.rows),
    }


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            dev_mode=True,
            data_dir=Path(tmp) / "var",
            queue_backend="immediate",
            embedded_worker=False,
            argon2_time_cost=1,
            argon2_memory_kib=1024,
            database_url=f"sqlite:///{tmp}/bench.db",
        )
        svc = build(settings)
        actor = populate(svc, n)
        counter = Counter(svc.engine)
        cases = {
            "items page 1": lambda uow: find_my_items(uow, svc.storage, actor),
            "items page 5": lambda uow: find_my_items(uow, svc.storage, actor, page=5),
            "items status": lambda uow: find_my_items(uow, svc.storage, actor, status="listed"),
            "items kind": lambda uow: find_my_items(uow, svc.storage, actor, kind="video"),
            "items words": lambda uow: find_my_items(uow, svc.storage, actor, query="rain"),
            "items words+kind": lambda uow: find_my_items(
                uow, svc.storage, actor, query="rain", kind="video"
            ),
            "tasks page 1": lambda uow: campaigns.open_tasks(uow, actor),
            "tasks kind": lambda uow: campaigns.open_tasks(uow, actor, kind="photo"),
            "tasks words": lambda uow: campaigns.open_tasks(uow, actor, query="rain"),
        }
        results = {name: measure(svc, counter, call) for name, call in cases.items()}
    print(f"{'case':<18} {'ms':>8} {'stmts':>6} {'rows':>6} {'total':>6} {'shown':>6}")
    for name, r in results.items():
        print(
            f"{name:<18} {r['ms']:>8} {r['statements']:>6} {r['rows_loaded']:>6} "
            f"{r['total']:>6} {r['shown']:>6}"
        )
    print(json.dumps({"n": n, "results": results}))


if __name__ == "__main__":
    main()
