"""The instance's policy: what its operator decided about fees, pay and buyers' uses.

Built once from settings (``config.Settings.policy``, called in ``bootstrap``) and handed
to the services that charge, pay or decide by it, so a route never assembles it. The
defaults here are the only ones: ``config.Settings`` takes its defaults from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from datatrust.domain.money import Money
from datatrust.domain.payfloor import PayFloors

DEFAULT_PLATFORM_FEE_PERCENT = 20
DEFAULT_PAY_FLOOR_MINOR_PER_HOUR = 800  # 8 USD an hour
DEFAULT_PAY_FLOOR_CURRENCY = "USD"
DEFAULT_MINIMUM_PAYOUT_MINOR = 1000  # in the pay floor's currency: 10 USD
DEFAULT_DENIED_INDUSTRIES = ("political_campaigning", "surveillance", "adult_content")
# How long a newly added payout method waits before any payout goes to it: the owner is
# mailed when one is added, and has this long to remove one they did not add.
DEFAULT_PAYOUT_METHOD_HOLD_HOURS = 48


def default_pay_floors() -> PayFloors:
    return PayFloors(DEFAULT_PAY_FLOOR_MINOR_PER_HOUR, DEFAULT_PAY_FLOOR_CURRENCY)


@dataclass(frozen=True)
class InstancePolicy:
    """``platform_fee_percent``: the platform's share of each sale. ``pay_floors``: the
    least hourly rate a campaign may pay, by country. ``minimum_payout``: the smallest
    payout (requested or weekly). ``denied_industries``: industries no buyer may declare.
    ``payout_method_hold``: how long after it is added a payout method is paid to."""

    platform_fee_percent: int = DEFAULT_PLATFORM_FEE_PERCENT
    pay_floors: PayFloors = field(default_factory=default_pay_floors)
    minimum_payout: Money = field(
        default_factory=lambda: Money(DEFAULT_MINIMUM_PAYOUT_MINOR, DEFAULT_PAY_FLOOR_CURRENCY)
    )
    denied_industries: tuple[str, ...] = DEFAULT_DENIED_INDUSTRIES
    payout_method_hold: timedelta = timedelta(hours=DEFAULT_PAYOUT_METHOD_HOLD_HOURS)
