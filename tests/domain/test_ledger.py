from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from datatrust.domain.errors import InvalidInput
from datatrust.domain.ledger import (
    AccountKind,
    AccountRef,
    InsufficientFunds,
    JournalEntry,
    Posting,
    apply_entry,
    balances,
    check,
    deposit,
    fund_escrow,
    pay_item_from_escrow,
    payout_fail,
    payout_request,
    payout_settle,
    release_escrow,
    reverse,
    sale,
)
from datatrust.domain.money import Money


def usd(cents: int) -> Money:
    return Money(cents, "USD")


ESCROW = AccountRef.escrow(12, "USD")
BUYER = AccountRef.buyer_funds(3, "USD")
PAYABLE = AccountRef.contributor_payable(7, "USD")
TRANSIT = AccountRef.payouts_in_transit(7, "USD")
REVENUE = AccountRef.platform_revenue("USD")
WORLD = AccountRef.external_cash("USD")


def entry(*postings: tuple[AccountRef, Money], key: str = "e1") -> JournalEntry:
    return JournalEntry(key, "test", tuple(Posting(a, m) for a, m in postings))


# -- account names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("account", "name"),
    [
        (BUYER, "buyer_funds:org:3:USD"),
        (ESCROW, "escrow:campaign:12:USD"),
        (PAYABLE, "contributor_payable:user:7:USD"),
        (TRANSIT, "payouts_in_transit:user:7:USD"),
        (REVENUE, "platform_revenue:platform:USD"),
        (WORLD, "external_cash:world:USD"),
        (AccountRef.external_cash("ZAR", "bank"), "external_cash:bank:ZAR"),
    ],
)
def test_account_names_follow_kind_owner_currency_and_parse_back(account, name):
    assert str(account) == name
    assert AccountRef.parse(name) == account


@pytest.mark.parametrize(
    "name",
    [
        "escrow:user:7:USD",
        "escrow:campaign::USD",
        "escrow:campaign:12:usd",
        "escrow:campaign:12",
        "savings:user:7:USD",
        "platform_revenue:org:1:USD",
        "contributor_payable:user:7 8:USD",
        "external_cash:World:USD",
        "nonsense",
    ],
)
def test_malformed_account_names_are_refused(name):
    with pytest.raises(InvalidInput):
        AccountRef.parse(name)


def test_only_external_cash_may_go_negative():
    allowed = {kind for kind in AccountKind if AccountRef.parse(_sample(kind)).may_go_negative}
    assert allowed == {AccountKind.EXTERNAL_CASH}


def _sample(kind: AccountKind) -> str:
    owner = {
        AccountKind.BUYER_FUNDS: "org:1",
        AccountKind.ESCROW: "campaign:1",
        AccountKind.CONTRIBUTOR_PAYABLE: "user:1",
        AccountKind.PAYOUTS_IN_TRANSIT: "user:1",
        AccountKind.PLATFORM_REVENUE: "platform",
        AccountKind.EXTERNAL_CASH: "world",
    }[kind]
    return f"{kind}:{owner}:USD"


# -- journal entries ------------------------------------------------------------------------


def test_a_balanced_entry_is_accepted():
    e = entry((BUYER, usd(-500)), (ESCROW, usd(500)))
    assert e.postings == (Posting(BUYER, usd(-500)), Posting(ESCROW, usd(500)))
    assert e.amount_for(ESCROW) == usd(500)
    assert e.amount_for(PAYABLE) == usd(0)


def test_an_entry_needs_at_least_two_postings():
    with pytest.raises(InvalidInput) as error:
        entry((ESCROW, usd(0)))
    assert any("at least two postings" in p for p in error.value.details["problems"])


def test_an_entry_that_does_not_sum_to_zero_is_refused():
    with pytest.raises(InvalidInput) as error:
        entry((BUYER, usd(-500)), (ESCROW, usd(499)))
    assert any("sum to USD -0.01" in p for p in error.value.details["problems"])


def test_an_entry_with_a_zero_posting_is_refused():
    with pytest.raises(InvalidInput) as error:
        entry((BUYER, usd(-500)), (ESCROW, usd(500)), (PAYABLE, usd(0)))
    assert any("zero posting" in p for p in error.value.details["problems"])


def test_an_entry_must_balance_in_each_currency_separately():
    zar_payable = AccountRef.contributor_payable(7, "ZAR")
    # USD -500 and ZAR +500 "sum to zero" only if currencies were ignored.
    with pytest.raises(InvalidInput) as error:
        entry((BUYER, usd(-500)), (zar_payable, Money(500, "ZAR")))
    assert any("USD postings sum" in p for p in error.value.details["problems"])
    assert any("ZAR postings sum" in p for p in error.value.details["problems"])


def test_a_multi_currency_entry_that_balances_per_currency_is_accepted():
    zar_world = AccountRef.external_cash("ZAR")
    zar_payable = AccountRef.contributor_payable(7, "ZAR")
    e = entry(
        (BUYER, usd(-500)), (WORLD, usd(500)), (zar_world, Money(-9000, "ZAR")),
        (zar_payable, Money(9000, "ZAR")),
    )  # fmt: skip
    assert len(e.postings) == 4


def test_a_posting_in_another_currency_than_its_account_is_refused():
    with pytest.raises(InvalidInput) as error:
        entry((BUYER, Money(-500, "EUR")), (ESCROW, usd(500)), (WORLD, Money(500, "EUR")))
    assert any("only its own currency" in p for p in error.value.details["problems"])


def test_an_entry_reports_every_problem_at_once():
    with pytest.raises(InvalidInput) as error:
        JournalEntry("", "m", (Posting(ESCROW, usd(0)),))
    assert len(error.value.details["problems"]) >= 3


def test_an_entry_keeps_its_own_copy_of_source():
    source = {"payout_id": 1}
    e = JournalEntry("k", "m", (Posting(BUYER, usd(-1)), Posting(ESCROW, usd(1))), source)
    source["payout_id"] = 2
    assert e.source == {"payout_id": 1}


def test_reverse_negates_every_posting_and_points_at_the_original():
    original = fund_escrow(3, 12, usd(500), key="fund:1")
    reversal = reverse(original)
    assert reversal.key == "fund:1:reversal"
    assert reversal.source["reverses"] == "fund:1"
    assert [p.amount for p in reversal.postings] == [-p.amount for p in original.postings]
    assert all(b.is_zero for b in balances([original, reversal]).values())


# -- balances, apply, check -----------------------------------------------------------------


def _story() -> list[JournalEntry]:
    return [
        deposit(3, usd(10_000), key="dep:1"),
        fund_escrow(3, 12, usd(6_000), key="fund:1"),
        pay_item_from_escrow(12, 7, usd(1_500), key="item:1"),
        pay_item_from_escrow(12, 8, usd(1_500), key="item:2"),
        release_escrow(12, 3, usd(3_000), key="release:1"),
        payout_request(7, usd(1_000), key="payout:1:request"),
        payout_settle(7, usd(1_000), key="payout:1:settle"),
        payout_request(7, usd(500), key="payout:2:request"),
        payout_fail(7, usd(500), key="payout:2:fail"),
    ]


def test_balances_follow_the_money_through_a_campaign_and_payouts():
    result = balances(_story())
    assert result[BUYER] == usd(7_000)
    assert result[ESCROW] == usd(0)
    assert result[PAYABLE] == usd(500)
    assert result[AccountRef.contributor_payable(8, "USD")] == usd(1_500)
    assert result[TRANSIT] == usd(0)
    assert result[WORLD] == usd(-9_000)
    # Double entry: everything held inside is mirrored by the outside world.
    assert sum(m.amount_minor for m in result.values()) == 0


def test_payout_fail_is_exactly_the_reversal_of_the_request():
    request = payout_request(7, usd(500), key="r")
    failed = payout_fail(7, usd(500), key="f")
    assert set(failed.postings) == set(reverse(request).postings)


def test_apply_entry_refuses_to_overdraw_escrow():
    funded = apply_entry({}, deposit(3, usd(1_000), key="d"))
    funded = apply_entry(funded, fund_escrow(3, 12, usd(1_000), key="f"))
    with pytest.raises(InsufficientFunds) as error:
        apply_entry(funded, pay_item_from_escrow(12, 7, usd(1_001), key="p"))
    assert "escrow:campaign:12:USD" in error.value.message
    assert apply_entry(funded, pay_item_from_escrow(12, 7, usd(1_000), key="p"))[ESCROW] == usd(0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: fund_escrow(3, 12, usd(1), key="k"),
        lambda: payout_request(7, usd(1), key="k"),
        lambda: sale(3, usd(100), 10, [(7, usd(100), 70)], key="k").entry,
    ],
)
def test_apply_entry_refuses_to_spend_money_an_account_does_not_hold(make):
    with pytest.raises(InsufficientFunds):
        apply_entry({}, make())


def test_apply_entry_lets_external_cash_go_negative():
    assert apply_entry({}, deposit(3, usd(100), key="d"))[WORLD] == usd(-100)


def test_check_passes_a_consistent_ledger():
    entries = _story()
    report = check(entries, balances(entries))
    assert report.ok
    assert report.entries_checked == len(entries)
    assert report.problems() == []


def test_check_treats_missing_stored_balances_as_zero():
    entries = [fund_escrow(3, 12, usd(5), key="a"), reverse(fund_escrow(3, 12, usd(5), key="a"))]
    assert check(entries, {}).ok


def test_check_reports_a_stored_balance_that_does_not_match():
    entries = _story()
    stored = balances(entries)
    stored[PAYABLE] = usd(600)
    stored[AccountRef.escrow(99, "USD")] = usd(1)
    report = check(entries, stored)
    assert not report.ok
    assert [m.account for m in report.mismatches] == [PAYABLE, AccountRef.escrow(99, "USD")]
    assert any("stored USD 6.00 but entries give USD 5.00" in line for line in report.problems())


class _StoredRow:
    """An entry as loaded from storage, never validated: what a corrupt row looks like."""

    def __init__(self, key, postings):
        self.key = key
        self.postings = postings


def test_check_reports_unbalanced_and_duplicate_entries_without_crashing():
    rows = [
        _StoredRow("a", [Posting(BUYER, usd(-5)), Posting(ESCROW, usd(4))]),
        _StoredRow("b", [Posting(BUYER, Money(-5, "EUR")), Posting(ESCROW, usd(5))]),
        fund_escrow(3, 12, usd(1), key="c"),
        fund_escrow(3, 12, usd(1), key="c"),
    ]
    report = check(rows, {})
    assert not report.ok
    assert any(line.startswith("entry 'a'") for line in report.invalid_entries)
    assert any(line.startswith("entry 'b'") for line in report.invalid_entries)
    assert report.duplicate_keys == ["c"]


def test_check_reports_an_overdrawn_account():
    entries = [fund_escrow(3, 12, usd(100), key="f")]
    report = check(entries, balances(entries))
    assert report.overdrawn == [(BUYER, usd(-100))]
    assert "buyer_funds:org:3:USD is overdrawn at USD -1.00" in report.problems()


# -- money movements: bad input -------------------------------------------------------------


@pytest.mark.parametrize("amount", [usd(0), usd(-1)])
@pytest.mark.parametrize(
    "movement",
    [
        lambda a: deposit(3, a, key="k"),
        lambda a: fund_escrow(3, 12, a, key="k"),
        lambda a: pay_item_from_escrow(12, 7, a, key="k"),
        lambda a: release_escrow(12, 3, a, key="k"),
        lambda a: payout_request(7, a, key="k"),
        lambda a: payout_settle(7, a, key="k"),
        lambda a: payout_fail(7, a, key="k"),
    ],
)
def test_money_movements_refuse_zero_and_negative_amounts(movement, amount):
    with pytest.raises(InvalidInput):
        movement(amount)


def test_money_movements_need_a_key():
    with pytest.raises(InvalidInput):
        fund_escrow(3, 12, usd(1), key=" ")


def test_money_movements_refuse_ids_that_would_break_account_names():
    with pytest.raises(InvalidInput):
        fund_escrow("3:x", 12, usd(1), key="k")


# -- sales ----------------------------------------------------------------------------------


def test_a_sale_takes_the_platform_fee_first_then_pays_royalties_on_each_item():
    split = sale(3, usd(1_000), 20, [(7, usd(500), 70), (8, usd(300), 50)], key="sale:1")
    assert split.platform_fee == usd(200)
    # The item prices add up to the net (800), so each item gets exactly its price.
    assert [line.item_net for line in split.lines] == [usd(500), usd(300)]
    assert [line.contributor_share for line in split.lines] == [usd(350), usd(150)]
    assert [line.platform_remainder for line in split.lines] == [usd(150), usd(150)]
    assert split.contributor_total == usd(500)
    assert split.platform_total == usd(500)
    assert dict((p.account, p.amount) for p in split.entry.postings) == {
        BUYER: usd(-1_000),
        PAYABLE: usd(350),
        AccountRef.contributor_payable(8, "USD"): usd(150),
        REVENUE: usd(500),
    }


def test_a_bundle_price_is_shared_over_items_in_proportion_to_their_prices():
    split = sale(3, usd(100), 0, [(7, usd(300), 100), (8, usd(100), 100)], key="s")
    assert [line.item_net for line in split.lines] == [usd(75), usd(25)]


def test_items_of_one_contributor_are_paid_in_one_posting():
    split = sale(3, usd(200), 0, [(7, usd(100), 50), (7, usd(100), 50)], key="s")
    assert split.entry.amount_for(PAYABLE) == usd(100)
    assert [p.account for p in split.entry.postings].count(PAYABLE) == 1


def test_a_sale_with_no_royalty_and_no_fee_books_everything_as_platform_revenue():
    split = sale(3, usd(100), "0", [(7, usd(100), 0)], key="s")
    assert [p.account for p in split.entry.postings] == [BUYER, REVENUE]


@pytest.mark.parametrize(
    ("price", "fee", "items"),
    [
        (usd(0), 10, [(7, usd(1), 50)]),
        (usd(-100), 10, [(7, usd(1), 50)]),
        (usd(100), 10, []),
        (usd(100), 10, [(7, Money(100, "EUR"), 50)]),
        (usd(100), 10, [(7, usd(-1), 50), (8, usd(101), 50)]),
        (usd(100), 10, [(7, usd(0), 50)]),
        (usd(100), 101, [(7, usd(100), 50)]),
        (usd(100), 10, [(7, usd(100), 100.5)]),
        (usd(100), 10.0, [(7, usd(100), 50)]),
    ],
)
def test_a_sale_refuses_bad_input(price, fee, items):
    with pytest.raises(InvalidInput):
        sale(3, price, fee, items, key="s")


sale_items = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=50),
        st.integers(min_value=0, max_value=10**9),
        st.integers(min_value=0, max_value=100) | st.decimals(0, 100, places=2),
    ),
    min_size=1,
    max_size=8,
).filter(lambda items: any(price > 0 for _, price, _ in items))


@given(
    st.integers(min_value=1, max_value=10**12),
    st.integers(min_value=0, max_value=100) | st.decimals(0, 100, places=2),
    sale_items,
    st.sampled_from(["USD", "JPY", "KWD"]),
)
def test_a_sale_always_splits_the_buyers_payment_exactly(price_minor, fee, items, code):
    price = Money(price_minor, code)
    split = sale(3, price, fee, [(c, Money(p, code), r) for c, p, r in items], key="s")
    contributor_shares = sum(line.contributor_share.amount_minor for line in split.lines)
    remainders = sum(line.platform_remainder.amount_minor for line in split.lines)
    assert price_minor == split.platform_fee.amount_minor + contributor_shares + remainders
    for line in split.lines:
        assert line.contributor_share.amount_minor >= 0
        assert line.platform_remainder.amount_minor >= 0
        assert line.item_net == line.contributor_share + line.platform_remainder
    # The entry books exactly that split and balances.
    booked = balances([split.entry])
    assert booked[AccountRef.buyer_funds(3, code)] == -price
    assert booked.get(AccountRef.platform_revenue(code), Money.zero(code)) == split.platform_total
    assert sum(m.amount_minor for m in booked.values()) == 0


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=0, max_value=100))
def test_a_sales_royalty_is_the_rounded_share_of_the_items_net(price_minor, royalty):
    split = sale(3, usd(price_minor), 10, [(7, usd(price_minor), royalty)], key="s")
    (line,) = split.lines
    exact = Decimal(line.item_net.amount_minor) * royalty / 100
    assert abs(Decimal(line.contributor_share.amount_minor) - exact) <= Decimal("0.5")


@pytest.mark.parametrize("amount", [500, 5.0, "5.00"])
def test_money_movements_refuse_amounts_that_are_not_money(amount):
    with pytest.raises(InvalidInput):
        fund_escrow(3, 12, amount, key="k")
