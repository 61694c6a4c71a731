"""Where a contributor is paid: a bank account, an M-Pesa number or a UPI address.

A ``PayoutMethod`` keeps its details sealed under the contributor's data key (they are
personal data: erasing the person destroys the key and so the details) and a masked
``label`` to show ("M-Pesa ···· 5678"). ``check_details`` normalises what a person typed
and names every problem by field; ``PayoutDestination`` is what a payout rail's adapter
receives to write the operator's batch file.

Rails and what they pay:

- ``bank_transfer``: any currency; account holder, an IBAN (checked by its mod-97 digits)
  or an account number, and the bank's code (BIC/SWIFT, IFSC, sort or routing code).
- ``mpesa`` (Safaricom M-Pesa B2C): Kenyan shillings only, whole shillings (the B2C API's
  amount is an integer), to a Kenyan mobile number written as ``2547XXXXXXXX``.
- ``upi`` (India's Unified Payments Interface): Indian rupees only, to a UPI address
  (``name@bank``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from datatrust.domain.clock import utcnow
from datatrust.domain.errors import Problem
from datatrust.domain.money import Money


class PayoutRail(StrEnum):
    BANK_TRANSFER = "bank_transfer"
    MPESA = "mpesa"
    UPI = "upi"


# The one currency a rail pays in; absent: any.
RAIL_CURRENCY = {PayoutRail.MPESA: "KES", PayoutRail.UPI: "INR"}
# The fields each rail asks for, in the order a form shows them.
RAIL_FIELDS = {
    PayoutRail.BANK_TRANSFER: ("account_holder", "account_number", "bank_code"),
    PayoutRail.MPESA: ("phone",),
    PayoutRail.UPI: ("account_holder", "vpa"),
}

_KENYAN_MOBILE = re.compile(r"^(?:\+?254|0)?([17]\d{8})$")
_VPA = re.compile(r"^[a-z0-9][a-z0-9._-]{1,255}@[a-z][a-z0-9]{2,63}$")
_ACCOUNT_NUMBER = re.compile(r"^[0-9A-Z]{4,34}$")
_BANK_CODE = re.compile(r"^[0-9A-Z]{4,15}$")
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[0-9A-Z]{10,30}$")
# What a spreadsheet reads as the start of a formula (tabs and line breaks never survive
# the normalisation of spaces, so a name is checked for these four).
FORMULA_STARTS = ("=", "+", "-", "@")


@dataclass(eq=False)
class PayoutMethod:
    user_id: int
    rail: PayoutRail
    details_sealed: str  # JSON of the checked details, sealed under the person's key
    label: str  # masked, safe to show: "···· 5678"
    created_at: datetime = field(default_factory=utcnow)
    removed_at: datetime | None = None
    id: int | None = None

    @property
    def owner_id(self) -> int:
        return self.user_id

    @property
    def currency(self) -> str | None:
        """The only currency this method pays in, or None for any."""
        return RAIL_CURRENCY.get(self.rail)


@dataclass(frozen=True)
class PayoutDestination:
    """What a rail's adapter needs to pay one payout: the rail and the checked details."""

    rail: PayoutRail
    details: dict[str, str]


def _iban_valid(iban: str) -> bool:
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def check_details(rail: PayoutRail, typed: dict[str, str]) -> tuple[dict[str, str], list[Problem]]:
    """The details for ``rail`` normalised (spaces and dashes out, upper or lower case as
    the rail writes them), and every problem found."""
    problems: list[Problem] = []
    details: dict[str, str] = {}
    for name in RAIL_FIELDS[rail]:
        details[name] = " ".join(typed.get(name, "").split())
    if "account_holder" in details:
        if not details["account_holder"]:
            problems.append(Problem("account_holder", "payout_method.holder_required"))
        elif len(details["account_holder"]) > 140:
            problems.append(Problem("account_holder", "too_long", {"maximum": 140}))
        elif details["account_holder"].startswith(FORMULA_STARTS):
            # The operator opens the rail's batch file in a spreadsheet, which would run
            # "=HYPERLINK(...)" as a formula (the writer escapes such cells as well).
            problems.append(Problem("account_holder", "payout_method.holder_formula"))
    if rail is PayoutRail.BANK_TRANSFER:
        number = re.sub(r"[\s-]", "", details["account_number"]).upper()
        details["account_number"] = number
        if _IBAN.match(number) and not number.isdigit():
            if not _iban_valid(number):
                problems.append(Problem("account_number", "payout_method.iban_check_digits"))
        elif not _ACCOUNT_NUMBER.match(number):
            problems.append(Problem("account_number", "payout_method.account_number"))
        code = re.sub(r"[\s-]", "", details["bank_code"]).upper()
        details["bank_code"] = code
        if not _BANK_CODE.match(code):
            problems.append(Problem("bank_code", "payout_method.bank_code"))
    elif rail is PayoutRail.MPESA:
        found = _KENYAN_MOBILE.match(re.sub(r"[\s()-]", "", details["phone"]))
        if found is None:
            problems.append(Problem("phone", "payout_method.kenyan_mobile"))
        else:
            details["phone"] = "254" + found.group(1)
    elif rail is PayoutRail.UPI:
        details["vpa"] = details["vpa"].replace(" ", "").lower()
        if not _VPA.match(details["vpa"]):
            problems.append(Problem("vpa", "payout_method.upi_address"))
    return details, problems


def mask(rail: PayoutRail, details: dict[str, str]) -> str:
    """A label that tells the owner which account it is without giving it away."""
    if rail is PayoutRail.BANK_TRANSFER:
        return f"···· {details['account_number'][-4:]}"
    if rail is PayoutRail.MPESA:
        return f"···· {details['phone'][-4:]}"
    name, _, bank = details["vpa"].partition("@")
    return f"{name[:2]}···@{bank}"


def rail_problems(rail: PayoutRail, amount: Money) -> list[Problem]:
    """Why ``rail`` cannot pay ``amount``, or nothing."""
    wanted = RAIL_CURRENCY.get(rail)
    if wanted is not None and amount.currency != wanted:
        return [Problem("method", "payout_method.currency", {"currency": wanted})]
    if rail is PayoutRail.MPESA and amount.amount_minor % 100:
        return [Problem("amount", "payout_method.whole_shillings")]
    return []
