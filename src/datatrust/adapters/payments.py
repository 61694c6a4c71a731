"""Payment rails (money in) and payout providers (money out), chosen by settings.

- ``FakeCardRail``: "charges" a card and returns a reference; the same idempotency key
  returns the same reference. Stands in for a card or bank rail until one is configured.
- ``CsvPayoutProvider``: the self-hosted default. Appends each payout to a batch CSV that
  the operator uses to make the bank or mobile-money transfers by hand; a payout already
  exported (by key) is never written again, by any process, so re-running a crashed
  batch or running two at once cannot put a payout in front of the operator twice.
- ``RailBatchFiles``: the default provider. Each payout goes into its rail's batch file
  (bank transfers, M-Pesa B2C requests, UPI payouts) by the contributor's payout method,
  each file set a ``CsvPayoutProvider``; a payout with no method, into the plain export.
- ``FakePayoutProvider``: for tests; records what it paid (and every instruction, with
  its destination) and can refuse chosen users.

The README section "Payout adapters" explains how a Stripe Connect or mobile-money
adapter plugs in: implement ``send`` with the payout key as the API's idempotency key.
"""

from __future__ import annotations

import csv
import fcntl
import hashlib
import io
import os
import re
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from datatrust.config import Settings
from datatrust.domain.money import Money
from datatrust.domain.payout_methods import RAIL_CURRENCY, PayoutRail
from datatrust.services.money import (
    PaymentFailed,
    PaymentRail,
    PayoutInstruction,
    PayoutOutcome,
    PayoutProvider,
)


class FakeCardRail:
    name = "card"

    def __init__(self, *, decline_over: Money | None = None) -> None:
        self.decline_over = decline_over
        self.charges: dict[str, tuple[str, Money]] = {}
        self._lock = threading.Lock()

    def charge(self, *, payer: str, amount: Money, idempotency_key: str, description: str) -> str:
        with self._lock:
            if idempotency_key in self.charges:
                return self.charges[idempotency_key][0]
            if self.decline_over is not None and amount > self.decline_over:
                raise PaymentFailed(f"the card was declined for {amount}")
            reference = "ch_" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]
            self.charges[idempotency_key] = (reference, amount)
            return reference


class FakePayoutProvider:
    name = "fake"

    def __init__(self, *, refuse_users: set[int] | None = None) -> None:
        self.refuse_users = refuse_users or set()
        self.paid: dict[str, Money] = {}
        self.sent: list[str] = []  # every call, repeats included
        self.instructions: list[PayoutInstruction] = []  # every call, with its destination
        self._outcomes: dict[str, PayoutOutcome] = {}
        self._lock = threading.Lock()

    def send(self, instruction: PayoutInstruction) -> PayoutOutcome:
        with self._lock:
            self.sent.append(instruction.key)
            self.instructions.append(instruction)
            if instruction.key in self._outcomes:
                return self._outcomes[instruction.key]
            if instruction.user_id in self.refuse_users:
                outcome = PayoutOutcome(False, reason="the account number was rejected")
            else:
                self.paid[instruction.key] = instruction.amount
                outcome = PayoutOutcome(True, reference=f"fake-{instruction.key}")
            self._outcomes[instruction.key] = outcome
            return outcome


class CsvPayoutProvider:
    """Appends each payout as a row of ``payouts-<YYYYMMDD>.csv`` under ``folder`` for the
    operator to pay by hand; a payout key is written once across every file there, however
    many processes send at once and wherever one of them is killed.

    A row counts as exported once its line is complete (ends in a newline): the CSV files
    themselves are the record. ``send`` holds an exclusive ``flock`` on ``folder/.lock``
    (every process on this host waits for it; the folder must not be shared between hosts
    unless their filesystem honours ``flock``), reads the keys of every complete line in
    the folder's CSVs, and appends the row, header first in a new file, in one write,
    then fsyncs, only if its key is not there. So a process killed right after the write
    left the row, which the batch that retries finds; one killed during the write left
    only a torn last line, which is cut off before the next append and written again.
    ``exported.keys`` (one key a line, written after the row) is a second record, still
    read, so moving paid CSV files away never makes a retried payout reappear.
    """

    name = "csv"
    COLUMNS = ("payout_key", "payout_id", "user_id", "currency", "amount", "amount_minor")
    KEYS = "exported.keys"

    def __init__(
        self,
        folder: Path,
        *,
        prefix: str = "payouts",
        columns: Sequence[str] = COLUMNS,
        row: Callable[[PayoutInstruction], Sequence[object]] | None = None,
    ) -> None:
        """``prefix``, ``columns`` and ``row``: one rail's batch file (``RailBatchFiles``);
        the first column is always the payout key."""
        self.folder = Path(folder)
        self.prefix = prefix
        self.columns = tuple(columns)
        self.row = row or _row
        # Per file: bytes read up to the end of its last complete line, and the keys seen
        # (with the file that holds each). Valid while the lock is held, since writers only
        # ever append complete lines after that point.
        self._read: dict[str, int] = {}
        self._keys: dict[str, str] = {}  # key → the CSV holding its row ("": listed only)
        self._listed: set[str] = set()  # the keys in exported.keys

    def send(self, instruction: PayoutInstruction) -> PayoutOutcome:
        self.folder.mkdir(parents=True, exist_ok=True)
        with (self.folder / ".lock").open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or we die
            self._catch_up()
            batch = f"{self.prefix}-{datetime.now(UTC):%Y%m%d}.csv"
            if instruction.key not in self._keys:
                header = _csv_line(self.columns)
                self._append(batch, header, _csv_line(self.row(instruction)))
                self._keys[instruction.key] = batch
            if instruction.key not in self._listed:  # also after a kill between the two
                self._append(self.KEYS, "", instruction.key + "\n")
                self._listed.add(instruction.key)
            where = self._keys[instruction.key] or batch
            return PayoutOutcome(True, reference=f"{where}:{instruction.key}")

    def _catch_up(self) -> None:
        """Read what other processes appended since this one last looked (the CSVs first,
        so a key's reference names the file that holds its row)."""
        for path in [*sorted(self.folder.glob(f"{self.prefix}-*.csv")), self.folder / self.KEYS]:
            if not path.exists():
                continue
            start = self._read.get(path.name, 0)
            if path.stat().st_size < start:  # replaced or cut by hand: read it again
                start = 0
            with path.open("rb") as handle:
                handle.seek(start)
                data = handle.read()
            complete = data[: data.rfind(b"\n") + 1]
            self._read[path.name] = start + len(complete)
            for line in complete.decode().splitlines():
                if path.name == self.KEYS:
                    self._listed.add(line.strip())
                    self._keys.setdefault(line.strip(), "")
                elif (key := line.split(",", 1)[0]) != self.columns[0]:
                    self._keys.setdefault(key, path.name)

    def _append(self, name: str, header: str, line: str) -> None:
        """Append ``line`` to ``name`` in one write and fsync it, first cutting off a torn
        last line (a writer killed mid-write) and starting a new file with ``header``."""
        path = self.folder / name
        complete = self._read.get(name, 0)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            created = os.fstat(fd).st_size == 0
            if os.fstat(fd).st_size > complete:
                os.ftruncate(fd, complete)
            data = ((header if complete == 0 else "") + line).encode()
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:  # the new file's name must survive a power cut as well as its rows
            dir_fd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
        self._read[name] = complete + len(data)


# A spreadsheet reads a cell that starts with one of these as a formula (OWASP's list for
# CSV injection): "=HYPERLINK(...)" in a name would run when the operator opens the file.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> object:
    """``value`` as a cell that a spreadsheet shows as written: text starting like a
    formula gets a leading apostrophe (shown as text, the apostrophe hidden). Numbers we
    computed (int, Decimal) stay numbers: a negative number is not a formula, and the
    columns a bank's upload reads as amounts must stay numeric."""
    if isinstance(value, (int, Decimal)):
        return value
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv_line(fields: Sequence[object]) -> str:
    """One row of a file the operator opens: every CSV this platform writes for people
    goes through here, so every cell is ``csv_cell``'d."""
    buffer = io.StringIO()
    # "\r\n"-terminated, as the files always were
    csv.writer(buffer).writerow([csv_cell(f) for f in fields])
    return buffer.getvalue()


def _row(instruction: PayoutInstruction) -> tuple[object, ...]:
    amount = instruction.amount
    return (
        instruction.key,
        instruction.payout_id,
        instruction.user_id,
        amount.currency,
        amount.to_decimal(),
        amount.amount_minor,
    )


# -- one batch file per rail: what the operator uploads to the bank or the mobile-money rail


def _bank_row(instruction: PayoutInstruction) -> tuple[object, ...]:
    d = instruction.destination.details  # type: ignore[union-attr]
    amount = instruction.amount
    return (
        instruction.key,
        d["account_holder"],
        d["account_number"],
        d["bank_code"],
        amount.currency,
        amount.to_decimal(),
        amount.amount_minor,
        f"Datatrust payout {instruction.payout_id}",
    )


def _mpesa_row(instruction: PayoutInstruction) -> tuple[object, ...]:
    """One B2C payment request, its fields named as Safaricom's Daraja B2C API (v3,
    ``POST /mpesa/b2c/v3/paymentrequest``) names them; the operator's tool adds the
    InitiatorName, SecurityCredential, PartyA (the B2C shortcode) and the two callback URLs.

    Source: https://developer.safaricom.co.ke/apis/BusinessToCustomer (read through its
    published mirrors; the portal itself needs a login). What it requires and this row keeps:
    ``OriginatorConversationID`` is the caller's unique id for the request, by which M-Pesa
    refuses the same request twice, so it is the payout key; ``PartyB`` is the customer's
    number with the country code and no plus sign (``2547XXXXXXXX``, not E.164's ``+254…``
    and not the local ``07…``); ``Amount`` is whole shillings; ``Remarks`` is 2 to 100
    characters; ``Occasion`` is optional. ``BusinessPayment`` pays registered M-Pesa users,
    which a person who gave their M-Pesa number is. ``RailBatchFiles`` refuses what this row
    could not carry exactly (cents, another currency, another kind of number)."""
    d = instruction.destination.details  # type: ignore[union-attr]
    return (
        instruction.key,
        instruction.key,
        "BusinessPayment",
        d["phone"],
        instruction.amount.amount_minor // 100,
        f"Datatrust payout {instruction.payout_id}",
        instruction.key,
    )


def _upi_row(instruction: PayoutInstruction) -> tuple[object, ...]:
    """One UPI payout, in the fields a bank's or payout service's bulk UPI upload asks for
    (beneficiary VPA and name, amount, a reference). NPCI publishes no bulk payout file for
    businesses: each bank or service (RazorpayX, Cashfree …) has its own template, so this
    file keeps what every one of them needs, in both units: rupees, and whole paise, the
    unit payout APIs take (https://razorpay.com/docs/api/x/payouts/create/vpa: "amount …
    in paise", mode ``UPI`` in upper case, currency ``INR``)."""
    d = instruction.destination.details  # type: ignore[union-attr]
    amount = instruction.amount
    return (
        instruction.key,
        d["vpa"],
        d["account_holder"],
        amount.to_decimal(),
        amount.amount_minor,
        amount.currency,
        "UPI",
        f"Datatrust payout {instruction.payout_id}",
    )


RAIL_FILES: dict[PayoutRail, tuple[str, tuple[str, ...], Callable[..., Sequence[object]]]] = {
    PayoutRail.BANK_TRANSFER: (
        "bank-transfers",
        (
            "payout_key",
            "account_holder",
            "account_number_or_iban",
            "bank_code",
            "currency",
            "amount",
            "amount_minor",
            "reference",
        ),
        _bank_row,
    ),
    PayoutRail.MPESA: (
        "mpesa-b2c",
        (
            "payout_key",
            "OriginatorConversationID",
            "CommandID",
            "PartyB",
            "Amount",
            "Remarks",
            "Occasion",
        ),
        _mpesa_row,
    ),
    PayoutRail.UPI: (
        "upi",
        (
            "payout_key",
            "beneficiary_vpa",
            "beneficiary_name",
            "amount",
            "amount_paise",
            "currency",
            "mode",
            "reference",
        ),
        _upi_row,
    ),
}


class RailBatchFiles:
    """The self-hosted payout provider: each payout becomes a row of its rail's batch file
    under ``folder/<rail>/`` (bank transfers, M-Pesa B2C requests, UPI payouts), which the
    operator uploads to the bank or rail, with ``CsvPayoutProvider``'s once-only export
    per file set. A payout with no destination (the person has no method yet) goes to the
    plain export in ``folder`` itself, as before methods existed."""

    name = "csv"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.plain = CsvPayoutProvider(self.folder)
        self.rails = {
            rail: CsvPayoutProvider(self.folder / rail.value, prefix=prefix, columns=cols, row=row)
            for rail, (prefix, cols, row) in RAIL_FILES.items()
        }

    def send(self, instruction: PayoutInstruction) -> PayoutOutcome:
        if instruction.destination is None:
            return self.plain.send(instruction)
        refused = rail_file_refusal(instruction)
        if refused:  # not settled: the payout fails and the money goes back to the balance
            return PayoutOutcome(False, reason=refused)
        return self.rails[instruction.destination.rail].send(instruction)


_MPESA_PARTY_B = re.compile(r"^254[17]\d{8}$")


def rail_file_refusal(instruction: PayoutInstruction) -> str:
    """Why ``instruction`` cannot go into its rail's batch file exactly as it is, or "".

    Payout requests are checked against the rail when they are made
    (``domain.payout_methods.rail_problems``); this is the last check before a row that
    moves money is written, so a payout that slipped past never goes out as a different
    sum: M-Pesa's ``Amount`` holds whole shillings (``1500.50`` would become 1500), and a
    UPI row in another currency would be paid in rupees."""
    destination = instruction.destination
    assert destination is not None
    amount = instruction.amount
    wanted = RAIL_CURRENCY.get(destination.rail)
    if wanted is not None and amount.currency != wanted:
        return f"{destination.rail.value} pays only {wanted}, not {amount.currency}"
    if destination.rail is PayoutRail.MPESA:
        if amount.amount_minor % 100:
            return "M-Pesa pays whole shillings"
        if not _MPESA_PARTY_B.match(destination.details.get("phone", "")):
            return "M-Pesa needs a Kenyan number written 2547XXXXXXXX or 2541XXXXXXXX"
    return ""


def make_payout_provider(settings: Settings) -> PayoutProvider:
    """The payout provider ``settings.payout_provider`` names: ``csv`` (the export under
    the data folder that the operator pays by hand, one batch file per rail:
    ``RailBatchFiles``) or ``fake`` (pays nothing, remembers what it was asked:
    development and tests)."""
    if settings.payout_provider == "fake":
        return FakePayoutProvider()
    return RailBatchFiles(Path(settings.data_dir) / "payouts")


def make_payment_rail(settings: Settings) -> PaymentRail:
    """The rail for buyer charges ``settings.payment_rail`` names. Only ``fake_card``
    exists: no real card or bank rail ships with Datatrust yet (README "Payout adapters"
    says how one plugs in)."""
    assert settings.payment_rail == "fake_card"
    return FakeCardRail()
