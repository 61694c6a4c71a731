"""Importing this module registers every job handler (see ``services.jobs.job``)."""

from __future__ import annotations

import importlib
import os

# Handler modules of the core, imported for their @job registrations.
CORE_HANDLER_MODULES: tuple[str, ...] = (
    "datatrust.services.ingest",
    "datatrust.services.missed",  # item.apply_missed
    "datatrust.adapters.payments",  # payouts.run_batch: it picks the payout provider
    "datatrust.services.snapshots",  # snapshots.build_shard, snapshots.finalise
    "datatrust.services.revocations",  # revocations.check_deadlines; the holders hook
    "datatrust.services.payfloor",  # payfloor.recheck
    "datatrust.services.mail",  # mail.send
    "datatrust.services.accounts",  # accounts.sign_up_mail
    "datatrust.services.rights",  # rights.purge_erased
    "datatrust.services.incidents",  # incidents.remind
    "datatrust.services.webhooks",  # webhooks.push
)


def load_handlers(extra: str | None = None) -> None:
    """Import the core handler modules and any named in ``DATATRUST_JOB_PLUGINS``
    (comma-separated module names): how an operator adds jobs without forking."""
    names = list(CORE_HANDLER_MODULES)
    names += [n.strip() for n in (extra or os.environ.get("DATATRUST_JOB_PLUGINS", "")).split(",")]
    for name in filter(None, names):
        importlib.import_module(name)


load_handlers()
