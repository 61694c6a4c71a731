"""The ``datatrust`` command: thin commands, one module per area, wired here.

Each command parses its arguments, calls one service (or the offline pipeline, licence
and client code) and prints the result; none holds a business rule of its own.
"""

from __future__ import annotations

import typer

from datatrust.cli import audit, feed, instance, licences, money, pipeline

app = typer.Typer(help="Datatrust: license your own data on your own terms.", no_args_is_help=True)
app.command()(instance.serve)
app.command()(instance.worker)
app.command()(instance.demo)
app.command()(pipeline.ingest)
app.command("redact-text")(pipeline.redact_text)
app.command()(audit.passport)
app.add_typer(instance.db_app, name="db")
app.add_typer(instance.jobs_app, name="jobs")
app.add_typer(audit.audit_app, name="audit")
app.add_typer(licences.licence_app, name="licence")
app.add_typer(licences.consent_app, name="consent")
app.add_typer(feed.feed_app, name="feed")
app.add_typer(money.ledger_app, name="ledger")
app.add_typer(money.fx_app, name="fx")


def main() -> None:  # pragma: no cover
    app(prog_name="datatrust")
