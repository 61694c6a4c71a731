"""The ledger and display exchange rates."""

from __future__ import annotations

import json

import typer

from datatrust.cli.common import invalid, services_for, settings_for

ledger_app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)
fx_app = typer.Typer(
    help="Exchange rates for showing approximate local values.", no_args_is_help=True
)


@ledger_app.command("check")
def ledger_check(
    dev: bool = typer.Option(False, "--dev"),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Verify every entry balances and every cached balance matches its postings; print a
    reconciliation report. Exit 1 when anything is wrong."""
    from datatrust.domain.permissions import Actor, Role
    from datatrust.services.money import check_ledger

    services = services_for(settings_for(dev))
    with services.uow() as uow:
        result = check_ledger(uow, Actor(Role.OPERATOR, user_id=0))
    report = result.as_dict()
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        typer.echo(f"ledger check: {'OK' if result.ok else 'FAILED'}")
        typer.echo(f"  entries checked: {report['entries_checked']}")
        typer.echo(f"  accounts:        {report['accounts']}")
        for currency, kinds in sorted(report["totals"].items()):
            typer.echo(f"  {currency}:")
            for kind, minor in sorted(kinds.items()):
                if kind != "sum":
                    typer.echo(f"    {kind:<22} {minor:>16}")
            typer.echo(f"    {'sum (must be 0)':<22} {kinds['sum']:>16}")
        for problem in report["problems"]:
            typer.echo(f"  problem: {problem}", err=True)
    if not result.ok:
        raise typer.Exit(1)


@fx_app.command("set")
def fx_set(
    base: str = typer.Argument(..., help="ISO 4217 code, e.g. USD"),
    quote: str = typer.Argument(..., help="ISO 4217 code, e.g. ZAR"),
    rate: str = typer.Argument(..., help="1 BASE = RATE QUOTE, a decimal such as 18.25"),
    on: str = typer.Option("", "--date", help="The rate's date, YYYY-MM-DD (default today)."),
    dev: bool = typer.Option(False, "--dev"),
) -> None:
    """Record an exchange rate (display only: the ledger never converts)."""
    from datetime import date

    from datatrust.domain.clock import utcnow
    from datatrust.domain.errors import DomainError
    from datatrust.domain.permissions import Actor, Role
    from datatrust.services.money import set_fx_rate

    try:
        as_of = date.fromisoformat(on) if on else utcnow().date()
    except ValueError:
        raise invalid([f"--date: a date as YYYY-MM-DD, got {on!r}"]) from None
    services = services_for(settings_for(dev))
    try:
        with services.uow() as uow:
            row = set_fx_rate(uow, Actor(Role.OPERATOR, user_id=0), base, quote, rate, as_of)
    except DomainError as exc:
        raise invalid(exc.problems or [exc.message]) from None
    typer.echo(f"1 {row.base} = {row.rate} {row.quote} on {row.as_of.isoformat()}")


@fx_app.command("list")
def fx_list(dev: bool = typer.Option(False, "--dev")) -> None:
    """Every recorded rate, newest first."""
    from datatrust.domain.permissions import Actor, Role
    from datatrust.services.money import list_fx_rates

    services = services_for(settings_for(dev))
    with services.uow() as uow:
        rows = list_fx_rates(uow, Actor(Role.OPERATOR, user_id=0))
    if not rows:
        typer.echo("no exchange rates yet: datatrust fx set USD ZAR 18.25")
    for row in rows:
        typer.echo(f"{row.as_of.isoformat()}  1 {row.base} = {row.rate} {row.quote}")
