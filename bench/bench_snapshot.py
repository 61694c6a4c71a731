"""Snapshot writing throughput vs a plain copy of the same bytes, same store, same run.

Stores N items of incompressible "de-identified" media (default 64 × 1 MiB) encrypted
under their contributor's key, as the pipeline leaves them. Then, alternating, several
rounds each:

  snapshot  a planned build (the rows ``build_snapshot`` writes) committed with its
            ``snapshots.build_shard`` jobs; the jobs run through the outbox and the
            queue in this process (immediate queue), each decrypting its items, writing
            a WebDataset tar and storing it encrypted; the last queues
            ``snapshots.finalise`` (Parquet index, Croissant manifest, SHA256SUMS, all
            encrypted). Timed from commit until the snapshot is ``ready``;
  copy      every item's stored object read and written to a new key in the same
            object store: the same bytes moved with no work on them.

Throughput is media bytes per second; reports the medians and the ratio snapshot/copy
(target ≥ 50%). SQLite database and local object store (the embedded defaults).
Run:  uv run python bench/bench_snapshot.py [ITEMS [MIB_PER_ITEM [ITEMS_PER_SHARD]]]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from datatrust.bootstrap import build
from datatrust.config import Settings
from datatrust.domain.accounts import Organisation, OrgStatus, User
from datatrust.domain.consent import LicenceOffer
from datatrust.domain.items import Item, ItemKind, ItemStatus
from datatrust.domain.licence import licence_from_template
from datatrust.domain.orders import AgreementRow, Order
from datatrust.domain.permissions import Role
from datatrust.domain.snapshots import Snapshot, SnapshotItem, SnapshotShard
from datatrust.services.market import snapshots

ROUNDS = 3
START = datetime(2026, 1, 1, tzinfo=UTC)


def seed(svc, n: int, size: int) -> tuple[int, int, list[tuple[Item, int]]]:
    """A contributor with ``n`` listed items, a buyer organisation and a bought order with
    an agreement per item; returns the items with their agreement ids."""
    with svc.uow() as uow:
        owner = User("owner@example.org", "x", Role.CONTRIBUTOR)
        buyer = User("buyer@example.org", "x", Role.BUYER)
        org = Organisation("Bench Labs Ltd", "GB", status=OrgStatus.APPROVED)
        uow.add(owner)
        uow.add(buyer)
        uow.add(org)
        uow.flush()
        terms = licence_from_template(
            "training_only", id="lic-bench", version=1, valid_from=START, price_minor=100
        )
        offer = LicenceOffer(owner_id=owner.id, licence=terms.to_dict())
        uow.add(offer)
        items = []
        for i in range(n):
            media = os.urandom(size)
            stored = svc.storage.put(uow, owner.id, [media], namespace="deid")
            item = Item(
                owner_id=owner.id,
                kind=ItemKind.VIDEO,
                filename=f"walk-{i}.mp4",
                content_type="video/mp4",
                size=size,
                original_key=stored.key,
                original_sha256=stored.sha256,
                status=ItemStatus.LISTED,
                deidentified_key=stored.key,
                deidentified_sha256=stored.sha256,
                duration_seconds=60,
                h3_cell="8928308280fffff",
            )
            uow.add(item)
            items.append(item)
        use = {
            "action": "train",
            "purpose": "model_training",
            "industry": "technology",
            "territory": "GB",
            "starts_at": "2026-01-01T00:00:00+00:00",
            "ends_at": "2026-07-01T00:00:00+00:00",
        }
        order = Order(org.id, buyer.id, use, [], 0, {}, {}, state="purchased")
        uow.add(order)
        uow.flush()
        agreements = []
        for item in items:
            agreement = AgreementRow(
                order.id, org.id, item.id, owner.id, offer.id, None, terms.to_dict(), use,
                100, 25, 50, "USD", item.deidentified_sha256,
            )  # fmt: skip
            uow.add(agreement)
            agreements.append(agreement)
        uow.commit()
        return org.id, order.id, [(i, a.id) for i, a in zip(items, agreements, strict=True)]


def build_once(svc, org_id, order_id, items: list[tuple[Item, int]], per_shard, n) -> int:
    """Plan one build as ``build_snapshot`` does and let its jobs run; return its id."""
    chunks = [items[i : i + per_shard] for i in range(0, len(items), per_shard)]
    with svc.uow() as uow:
        snap = Snapshot(
            org_id=org_id,
            order_id=order_id,
            created_by=1,
            version=f"1.0.{n}",
            item_ids=[i.id for i, _ in items],
            dropped={},
            shard_count=len(chunks),
            wrapped_key=svc.storage.cipher.new_wrapped_key(),
        )
        uow.add(snap)
        uow.flush()
        for index, chunk in enumerate(chunks):
            ids = [i.id for i, _ in chunk]
            uow.add(SnapshotShard(snap.id, index, f"shard-{index:05d}.tar", ids))
            for item, agreement_id in chunk:
                uow.add(
                    SnapshotItem(
                        snapshot_id=snap.id,
                        org_id=org_id,
                        item_id=item.id,
                        agreement_id=agreement_id,
                        shard_index=index,
                        key=f"dt-{item.id:010d}",
                        content_sha256=item.deidentified_sha256,
                        licence_id="lic-bench/v1",
                        consent_record_id=f"consent-{item.id}",
                    )
                )
            uow.enqueue(
                snapshots.BUILD_SHARD_JOB,
                {"snapshot_id": snap.id, "index": index},
                key=f"{snapshots.BUILD_SHARD_JOB}:{snap.id}:{index}",
            )
        uow.commit()  # the immediate queue runs every shard job, then finalise
        return snap.id


def main() -> None:
    args = [int(a) for a in sys.argv[1:]]
    n = args[0] if args else 64
    size = (args[1] if len(args) > 1 else 1) * 1024 * 1024
    per_shard = args[2] if len(args) > 2 else 16
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            dev_mode=True,
            data_dir=Path(tmp),
            queue_backend="immediate",
            embedded_worker=False,
            base_url="http://bench.example",
        )
        svc = build(settings)
        org_id, order_id, items = seed(svc, n, size)
        snap_t, copy_t = [], []
        for r in range(ROUNDS):
            started = time.perf_counter()
            for item, _ in items:
                svc.store.put(f"copy/{r}/{item.id}", svc.store.get(item.deidentified_key))
            copy_t.append(time.perf_counter() - started)

            started = time.perf_counter()
            snap_id = build_once(svc, org_id, order_id, items, per_shard, r)
            snap_t.append(time.perf_counter() - started)
            with svc.uow() as uow:
                built = uow.get(Snapshot, snap_id)
                assert built is not None and built.state == "ready", "the build did not finish"
                files = dict(built.files)
        svc.close()
    media_mib = n * size / 2**20
    s, c = statistics.median(snap_t), statistics.median(copy_t)
    result = {
        "items": n,
        "mib_per_item": size / 2**20,
        "items_per_shard": per_shard,
        "shards": len([f for f in files if f.startswith("shard-")]),
        "files": sorted(files),
        "snapshot_s": round(s, 3),
        "copy_s": round(c, 3),
        "snapshot_mib_s": round(media_mib / s, 1),
        "copy_mib_s": round(media_mib / c, 1),
        "ratio": round(c / s, 2),
    }
    print("| media MiB | snapshot s | copy s | snapshot MiB/s | copy MiB/s | ratio |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| {media_mib:.0f} | {result['snapshot_s']} | {result['copy_s']} | "
        f"{result['snapshot_mib_s']} | {result['copy_mib_s']} | {result['ratio']:.0%} |"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
