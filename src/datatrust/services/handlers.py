"""Every job handler of the core, listed by name, and the registry a process runs.

Nothing registers itself on import: ``bootstrap`` builds a ``JobRegistry`` from
``CORE_JOBS`` and the operator's plugin modules (``Settings.job_plugins``).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from datatrust.services.accounts import accounts, mail, notifications
from datatrust.services.campaigns import campaigns, payfloor
from datatrust.services.contributions import ingest, missed
from datatrust.services.jobs import Handler, JobRegistry
from datatrust.services.licensing import consent
from datatrust.services.market import revocations, rights, snapshots
from datatrust.services.money import payouts
from datatrust.services.trust import incidents

CORE_JOBS: tuple[Handler, ...] = (
    ingest.process_item_job,
    ingest.reprocess_item_job,
    missed.apply_missed_job,
    payouts.run_batch_job,
    payouts.weekly_payouts_job,
    snapshots.build_shard,
    snapshots.finalise,
    revocations.check_deadlines_job,
    revocations.notify_holders,
    consent.reissue_for_recipients,
    campaigns.auto_approve_job,
    payfloor.recheck_job,
    mail.send_job,
    accounts.send_sign_up_mail,
    accounts.send_password_reset_mail,
    accounts.send_security_notice,
    notifications.send_notification_mail,
    rights.purge_erased,
    incidents.remind_job,
    revocations.push_notice_job,
)


def job_registry(plugins: str | Iterable[str] = "") -> JobRegistry:
    """The core handlers plus those of each plugin module named in ``plugins`` (a
    comma-separated string, as ``Settings.job_plugins`` holds it, or a list)."""
    names = plugins.split(",") if isinstance(plugins, str) else list(plugins)
    extra = [
        handler
        for name in filter(None, (n.strip() for n in names))
        for handler in JobRegistry.marked_in(importlib.import_module(name))
    ]
    return JobRegistry.of([*CORE_JOBS, *extra])
