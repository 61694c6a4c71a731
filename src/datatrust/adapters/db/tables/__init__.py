"""Every table, one module per aggregate, on one ``metadata``; ``map_domain`` maps the
domain classes onto them (imperative mapping: the domain stays plain Python).

Alembic migrations are the source of truth for the schema; a test checks that they and
this metadata agree. Each module imports only ``base`` (and the domain), never another
table module: a foreign key names its table as text (``"users.id"``), so no module needs
another's ``Table`` object, and importing this package registers every table.
"""

from __future__ import annotations

from datatrust.adapters.db.tables import (
    accounts,
    audit,
    campaigns,
    consent,
    fingerprints,  # noqa: F401  (a table, no class to map)
    incidents,
    invitations,
    items,
    jobs,
    ledger,
    missed,
    notifications,
    orders,
    payfloor,
    samples,
    webhooks,
)
from datatrust.adapters.db.tables.base import metadata

__all__ = ["map_domain", "metadata"]

_mapped = False


def map_domain() -> None:
    """Map the domain classes once per process."""
    global _mapped
    if _mapped:
        return
    accounts.map_accounts()
    items.map_items()
    audit.map_audit()
    jobs.map_jobs()
    consent.map_licences_and_consent()
    campaigns.map_campaigns()
    ledger.map_money()
    orders.map_orders()
    payfloor.map_payfloor()
    invitations.map_participants()
    missed.map_missed()
    incidents.map_incidents()
    webhooks.map_webhooks()
    samples.map_samples()
    notifications.map_notifications()
    _mapped = True
