"""Every job handler of the core, listed by name, and the registry a process runs.

Nothing registers itself on import: ``bootstrap`` builds a ``JobRegistry`` from
``CORE_JOBS`` and the operator's plugin modules (``Settings.job_plugins``).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from datatrust.services import accounts, campaigns, contributions, licensing, market, money, trust
from datatrust.services.jobs import Handler, JobRegistry

CORE_JOBS: tuple[Handler, ...] = (
    contributions.process_item_job,
    contributions.reprocess_item_job,
    contributions.apply_missed_job,
    money.run_batch_job,
    money.weekly_payouts_job,
    market.build_shard,
    market.finalise,
    market.check_deadlines_job,
    market.notify_holders,
    licensing.reissue_for_recipients,
    campaigns.auto_approve_job,
    campaigns.recheck_job,
    accounts.send_job,
    accounts.send_sign_up_mail,
    accounts.send_password_reset_mail,
    accounts.send_security_notice,
    accounts.send_notification_mail,
    market.purge_erased,
    trust.remind_job,
    market.push_notice_job,
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
