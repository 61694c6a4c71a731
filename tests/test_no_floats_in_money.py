"""No float may flow where money does (DESIGN.md §5 Money).

Static part: every money module is parsed and must contain no float literal, no ``float(``
call and no true division ``/`` (``//`` and ``divmod`` are fine: they stay in integers).
The money modules are the domain's money, ledger, pay-floor, FX and currency modules, plus
any module under ``src/datatrust`` whose dotted name contains money, ledger, payout or
royalt, so new payout services and ledger adapters are covered the day they appear.

A line that genuinely needs one of these (say, ``/`` joining paths in a ledger adapter) can
end in ``# float-ok: <why>``; the reason is required so a reviewer sees it.

Runtime part: the public entry points refuse floats.
"""

from __future__ import annotations

import ast
import re
from datetime import date
from pathlib import Path

import pytest

from datatrust.domain.errors import InvalidInput
from datatrust.domain.fx import Rate
from datatrust.domain.money import Money

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "datatrust"
CORE = ["money", "ledger", "payfloor", "fx", "currencies"]
NAME_HINTS = ("money", "ledger", "payout", "royalt")
WAIVER = re.compile(r"#\s*float-ok:\s*\S")


def money_modules() -> list[Path]:
    found = {PACKAGE / "domain" / f"{name}.py" for name in CORE}
    for path in PACKAGE.rglob("*.py"):
        dotted = ".".join(path.relative_to(PACKAGE).with_suffix("").parts).lower()
        if any(hint in dotted for hint in NAME_HINTS):
            found.add(path)
    return sorted(found)


def float_problems(source: str, filename: str = "<source>") -> list[str]:
    """Every float literal, ``float(`` call and true division in ``source``, by line."""
    lines = source.splitlines()
    problems = []
    for node in ast.walk(ast.parse(source, filename)):
        what = None
        if isinstance(node, ast.Constant) and isinstance(node.value, float | complex):
            what = f"float literal {node.value!r}"
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "float"
        ):
            what = "float() call"
        elif isinstance(node, ast.BinOp | ast.AugAssign) and isinstance(node.op, ast.Div):
            what = "true division '/' (use // or divmod)"
        if what is None:
            continue
        line = lines[node.lineno - 1]
        if WAIVER.search(line):
            continue
        problems.append(f"{filename}:{node.lineno}: {what}: {line.strip()}")
    return problems


def test_the_core_money_modules_exist_and_are_scanned():
    scanned = money_modules()
    for name in CORE:
        assert PACKAGE / "domain" / f"{name}.py" in scanned
        assert (PACKAGE / "domain" / f"{name}.py").is_file()


@pytest.mark.parametrize("path", money_modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_money_modules_contain_no_floats_and_no_true_division(path):
    assert float_problems(path.read_text(), str(path.relative_to(PACKAGE))) == []


@pytest.mark.parametrize(
    "snippet",
    [
        "fee = price * 0.2",
        "x = float(text)",
        "share = amount / 3",
        "amount /= 2",
        "rate = 1e-3",
    ],
)
def test_the_scan_catches_floats_and_true_division(snippet):
    assert float_problems(snippet) != []


@pytest.mark.parametrize(
    "snippet",
    [
        "share = amount // 3",
        "q, r = divmod(amount, 3)",
        "path = root / 'x'  # float-ok: joining paths",
        "'a/b'",
    ],
)
def test_the_scan_allows_integer_division_and_waived_lines(snippet):
    assert float_problems(snippet) == []


def test_the_waiver_needs_a_reason():
    assert float_problems("x = a / b  # float-ok:") != []


def test_money_refuses_a_float_amount():
    with pytest.raises(InvalidInput):
        Money(1.5, "USD")
    with pytest.raises(InvalidInput):
        Money(2.0, "USD")


def test_money_entry_points_refuse_floats():
    with pytest.raises(InvalidInput):
        Money.parse(12.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        Money(100, "USD").percent(12.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money(100, "USD") * 1.5  # type: ignore[operator]
    with pytest.raises(InvalidInput):
        Money(100, "USD").split([0.5, 0.5])  # type: ignore[list-item]
    with pytest.raises(InvalidInput):
        Rate("USD", "ZAR", 18.25, date(2025, 1, 1))
