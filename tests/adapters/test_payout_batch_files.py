"""The M-Pesa and UPI batch files hold what their rails take, exactly.

M-Pesa: the fields of Safaricom's Daraja B2C request, v3
(https://developer.safaricom.co.ke/apis/BusinessToCustomer): ``OriginatorConversationID``
(the caller's unique id, by which a repeat is refused), ``CommandID`` (``SalaryPayment``,
``BusinessPayment`` or ``PromotionPayment``), ``PartyB`` (the customer's number with the
country code 254 and no plus sign), ``Amount`` (whole shillings), ``Remarks`` (up to 100
characters), ``Occasion`` (optional). UPI: NPCI publishes no bulk payout file for
businesses; payout APIs take the amount in paise, currency ``INR`` and mode ``UPI``
(https://razorpay.com/docs/api/x/payouts/create/vpa).
"""

import csv
import re
from pathlib import Path

import pytest

from datatrust.adapters.payments import RailBatchFiles
from datatrust.domain.money import Money
from datatrust.domain.payout_methods import PayoutDestination, PayoutRail, check_details
from datatrust.services.money import PayoutInstruction

DARAJA_B2C_FIELDS = (
    "OriginatorConversationID",
    "CommandID",
    "PartyB",
    "Amount",
    "Remarks",
    "Occasion",
)


def _mpesa(typed_phone: str) -> PayoutDestination:
    details, problems = check_details(PayoutRail.MPESA, {"phone": typed_phone})
    assert problems == []
    return PayoutDestination(PayoutRail.MPESA, details)


def _rows(folder: Path, pattern: str) -> tuple[list[str], list[dict[str, str]]]:
    (path,) = folder.glob(pattern)
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


@pytest.mark.parametrize(
    ("typed", "party_b"),
    [("0712 345 678", "254712345678"), ("+254 112 345 678", "254112345678")],
)
def test_an_mpesa_row_is_a_daraja_b2c_request_paid_once(tmp_path, typed, party_b):
    files = RailBatchFiles(tmp_path)
    payout = PayoutInstruction("payout:7", 7, 3, Money(150000, "KES"), _mpesa(typed))
    assert files.send(payout).settled and files.send(payout).settled  # a retried batch

    columns, rows = _rows(tmp_path / "mpesa", "mpesa-b2c-*.csv")
    assert columns == ["payout_key", *DARAJA_B2C_FIELDS]
    (row,) = rows  # sent twice, written once
    assert row["OriginatorConversationID"] == "payout:7"  # M-Pesa refuses a repeat by it
    assert row["CommandID"] in {"SalaryPayment", "BusinessPayment", "PromotionPayment"}
    assert row["PartyB"] == party_b and re.fullmatch(r"254[17]\d{8}", row["PartyB"])
    assert row["Amount"] == "1500"  # KES 1,500.00 in whole shillings, not 150000 nor 1500.00
    assert 2 <= len(row["Remarks"]) <= 100 and len(row["Occasion"]) <= 100


@pytest.mark.parametrize(
    ("amount", "phone"),
    [
        (Money(150050, "KES"), "254712345678"),  # KES 1,500.50 would have gone out as 1,500
        (Money(1500, "USD"), "254712345678"),  # M-Pesa pays shillings only
        (Money(150000, "KES"), "+254712345678"),  # not the number form B2C takes
    ],
)
def test_an_mpesa_payout_the_file_cannot_carry_exactly_is_refused_not_rounded(
    tmp_path, amount, phone
):
    destination = PayoutDestination(PayoutRail.MPESA, {"phone": phone})
    outcome = RailBatchFiles(tmp_path).send(
        PayoutInstruction("payout:9", 9, 3, amount, destination)
    )
    assert not outcome.settled and outcome.reason  # booked as a failure: money back to balance
    assert not list((tmp_path / "mpesa").glob("*.csv"))


def test_a_upi_row_gives_rupees_and_whole_paise_in_inr_and_the_name_in_utf8(tmp_path):
    destination = PayoutDestination(PayoutRail.UPI, {"vpa": "asha@okbank", "account_holder": "आशा"})
    payout = PayoutInstruction("payout:8", 8, 3, Money(123456, "INR"), destination)
    assert RailBatchFiles(tmp_path).send(payout).settled

    _, (row,) = _rows(tmp_path / "upi", "upi-*.csv")
    assert (row["beneficiary_vpa"], row["beneficiary_name"]) == ("asha@okbank", "आशा")
    assert (row["amount"], row["amount_paise"]) == ("1234.56", "123456")
    assert (row["currency"], row["mode"]) == ("INR", "UPI")


def test_a_upi_payout_in_another_currency_is_refused_not_written_as_rupees(tmp_path):
    destination = PayoutDestination(
        PayoutRail.UPI, {"vpa": "asha@okbank", "account_holder": "Asha"}
    )
    outcome = RailBatchFiles(tmp_path).send(
        PayoutInstruction("payout:10", 10, 3, Money(1000, "USD"), destination)
    )
    assert not outcome.settled and "INR" in outcome.reason
    assert not list((tmp_path / "upi").glob("*.csv"))
