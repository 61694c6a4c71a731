"""The ``datatrust`` command."""

from __future__ import annotations

import json
import os
import sys

import typer

from datatrust.config import InsecureSettings, Settings, load_settings

app = typer.Typer(help="Datatrust: license your own data on your own terms.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
jobs_app = typer.Typer(help="Background jobs.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(jobs_app, name="jobs")


def _settings(dev: bool = False) -> Settings:
    if dev:
        os.environ["DATATRUST_DEV_MODE"] = "1"
    settings = load_settings()
    try:
        settings.check_secrets()
    except InsecureSettings as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    return settings


def _services(settings: Settings):  # type: ignore[no-untyped-def]
    from datatrust.bootstrap import build

    return build(settings)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port to listen on."),
    dev: bool = typer.Option(False, "--dev", help="Dev mode: development secrets allowed."),
    demo: bool = typer.Option(False, "--demo", help="Seed demo data first (safe to repeat)."),
) -> None:
    """Run the web service; on the embedded default it also runs the job consumer."""
    import uvicorn

    from datatrust.logs import configure_logging
    from datatrust.web.app import create_app

    settings = _settings(dev)
    configure_logging()
    services = _services(settings)
    if demo:
        _print_demo(services)
    typer.echo(f"Datatrust on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(create_app(services), host=host, port=port, log_config=None, access_log=False)


@app.command()
def worker(
    workers: int = typer.Option(2, help="Worker threads in this process."),
    dev: bool = typer.Option(False, "--dev"),
) -> None:
    """Run a job worker (Huey consumer). Start as many as needed, on as many machines."""
    from datatrust.worker import run_worker

    run_worker(_services(_settings(dev)), workers=workers)


@jobs_app.command("sweep")
def jobs_sweep(dev: bool = typer.Option(False, "--dev")) -> None:
    """Return jobs whose worker died to the queue (also runs every minute in workers)."""
    report = _services(_settings(dev)).sweep()
    typer.echo(json.dumps({"released": report.released, "redispatched": report.redispatched}))


@db_app.command("upgrade")
def db_upgrade(dev: bool = typer.Option(False, "--dev")) -> None:
    """Apply every migration to the configured database."""
    from datatrust.bootstrap import upgrade_database

    revision = upgrade_database(_settings(dev))
    typer.echo(f"database at revision {revision}")


@audit_app.command("verify")
def audit_verify(dev: bool = typer.Option(False, "--dev")) -> None:
    """Recompute the audit chain. Exit 1 and name the first bad event if it was altered."""
    from datatrust.domain.permissions import Actor, Role
    from datatrust.services.audit import verify_audit_log

    services = _services(_settings(dev))
    with services.uow() as uow:
        report = verify_audit_log(uow, Actor(Role.OPERATOR, user_id=0))
    typer.echo(json.dumps(report.__dict__))
    if not report.ok:
        typer.echo(f"audit log broken at event {report.first_bad_seq}: {report.problem}", err=True)
        raise typer.Exit(1)


@app.command()
def demo(dev: bool = typer.Option(False, "--dev")) -> None:
    """Seed demo people, a vetted buyer organisation and sample items; print sign-ins."""
    _print_demo(_services(_settings(dev)))


def _print_demo(services) -> None:  # type: ignore[no-untyped-def]
    from datatrust.services.demo import DEMO_PASSWORD, seed_demo

    people = seed_demo(services.uow, services.hasher, services.storage)
    typer.echo(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
    for person in people:
        typer.echo(f"  {person.role.value:<12} {person.email:<26} {person.name}")


def main() -> None:  # pragma: no cover
    app(prog_name="datatrust")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
