"""Money: escrow, sales, the ledger and its checks, FX, statements and payouts
(DESIGN.md §5 Money).

What other code may use; everything else in this package is its own business.
Outside it, import these names from here, never from the modules inside (tests
test_service_packages.py). Inside, one module per concern: ``ports`` (the payment rail
and payout provider), ``escrow``, ``sales``, ``payouts`` (requests, methods, the payout
page), ``batches`` (sending payouts, the payout jobs), ``fx``, ``statements``,
``ledger_check``, and ``common`` (amount and key checks, posting an entry).

Every movement is a ledger entry posted through ``uow.ledger`` (the SQL ledger
locks the accounts it touches and refuses an overdraft) with an audit event in the same
transaction. Entries are keyed, so each function here is safe to call twice:

=========================  ======================================  =====================
function                   entry key                               commits?
=========================  ======================================  =====================
fund_campaign_escrow       ``deposit:<rail>:<ref>``,               yes (an intention)
                           ``escrow-fund:<campaign>:<key>``
pay_accepted_item          ``item-pay:<item_id>``                  no (a building block)
close_campaign_escrow      ``escrow-release:<campaign>:<CUR>``     no
record_sale                ``sale:<sale_key>``                     no
request_payout             ``payout:<id>:request``                 yes
request_weekly_payouts     ``payout:<id>:request`` (payout keyed   yes, per contributor
                           ``weekly:<year>-W<week>:<CUR>``)
pay_from_escrow            the caller's (``floor-topup:…``,        no
                           ``coverage-bonus:<h3 cell>``)
run_payout_batch           ``payout:<id>:settle`` / ``:fail``      yes, per payout
=========================  ======================================  =====================

Building blocks take the caller's unit of work and leave committing to it, so the
campaigns and sales services can pay in the same transaction as their own change.
"""

from datatrust.services.money.batches import (
    run_batch_job,
    run_payout_batch,
    schedule_payout_batch,
    weekly_payouts_job,
)
from datatrust.services.money.common import money_out
from datatrust.services.money.escrow import (
    EscrowFunding,
    check_org_runs_campaigns,
    close_campaign_escrow,
    escrow_balance,
    escrow_returned,
    fund_campaign_escrow,
    org_runs_campaigns,
    pay_accepted_item,
    pay_from_escrow,
    required_escrow,
)
from datatrust.services.money.fx import fx_rate_out, list_fx_rates, set_fx_rate
from datatrust.services.money.ledger_check import check_ledger
from datatrust.services.money.payouts import (
    add_payout_method,
    destination_for,
    held_methods,
    list_payouts,
    payout_methods,
    payout_page,
    remove_payout_method,
    request_payout,
    request_payout_to,
)
from datatrust.services.money.ports import (
    PaymentFailed,
    PaymentRail,
    PayoutInstruction,
    PayoutOutcome,
    PayoutProvider,
)
from datatrust.services.money.sales import deposit_buyer_funds, record_sale
from datatrust.services.money.statements import buyer_invoices, contributor_statement, home_currency

__all__ = [
    "EscrowFunding",
    "PaymentFailed",
    "PaymentRail",
    "PayoutInstruction",
    "PayoutOutcome",
    "PayoutProvider",
    "add_payout_method",
    "buyer_invoices",
    "check_ledger",
    "check_org_runs_campaigns",
    "close_campaign_escrow",
    "contributor_statement",
    "deposit_buyer_funds",
    "destination_for",
    "escrow_balance",
    "escrow_returned",
    "fund_campaign_escrow",
    "fx_rate_out",
    "held_methods",
    "home_currency",
    "list_fx_rates",
    "list_payouts",
    "money_out",
    "org_runs_campaigns",
    "pay_accepted_item",
    "pay_from_escrow",
    "payout_methods",
    "payout_page",
    "record_sale",
    "remove_payout_method",
    "request_payout",
    "request_payout_to",
    "required_escrow",
    "run_batch_job",
    "run_payout_batch",
    "schedule_payout_batch",
    "set_fx_rate",
    "weekly_payouts_job",
]
