"""Running an instance: the web service, workers, the demo, jobs and the schema."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from datatrust.cli.common import check_storage, services_for, settings_for
from datatrust.config import Settings

if TYPE_CHECKING:
    from datatrust.bootstrap import Services

jobs_app = typer.Typer(help="Background jobs.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def served_settings(settings: Settings, host: str, port: int) -> Settings:
    """``settings`` with ``base_url`` where ``serve`` listens when none was configured:
    the links and IRIs an instance publishes (licence IRIs in snapshots and ODRL, the
    feed's issuer, sign-up links) must resolve on the port it actually serves, not the
    default 8000. A configured ``DATATRUST_BASE_URL`` (a proxy's public URL) wins."""
    if "base_url" not in settings.model_fields_set:
        shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        settings.base_url = f"http://{f'[{shown}]' if ':' in shown else shown}:{port}"
    return settings


def server_options() -> dict[str, Any]:
    """How ``serve`` runs uvicorn (besides the app and the address)."""
    return {
        "log_config": None,
        "access_log": False,
        "server_header": False,  # no version banner for scanners
        # Forwarded headers are read by web.security, from DATATRUST_TRUSTED_PROXIES only.
        "proxy_headers": False,
        # Idle connections stay open longer than clients and proxies keep theirs (httpx 5 s,
        # common load balancers 60 s): a server that closes first races a client reusing
        # the connection, and that request fails as a reset (seen at 256 clients).
        "timeout_keep_alive": 75,
        # HTTP parsed in C: h11's pure-Python parsing and writing took ~11 % of the server's
        # GIL samples at 64 clients on PostgreSQL, httptools' ~3.5 % (bench/RESULTS.md).
        "http": "httptools",
    }


def freeze_startup_heap() -> int:
    """Put what starting made (modules, the app and its routes, ORM mappers, catalogues:
    about 300,000 objects) beyond the cyclic garbage collector, and return how many.

    A full collection walks every tracked object while it holds the GIL: with the startup
    heap in it, each one paused every request in the process for 0.3-1.3 s on the 2-core
    benchmark machine (bench/RESULTS.md, "Load", session 11), the slowest steps of the
    load mix; frozen, a full collection walks only what requests made since. Frozen
    objects are freed by reference counting as before; only cycles among them would stay,
    and startup objects live for the whole process anyway."""
    import gc

    gc.collect()  # the garbage of starting is not frozen with it
    gc.freeze()
    return gc.get_freeze_count()


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

    settings = served_settings(settings_for(dev), host, port)
    configure_logging()
    services = services_for(settings)
    check_storage(services)
    if demo:
        print_demo(services)
    typer.echo(f"Datatrust on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    app = create_app(services)
    freeze_startup_heap()
    uvicorn.run(app, host=host, port=port, **server_options())


def worker(
    workers: int = typer.Option(2, help="Worker threads in this process."),
    dev: bool = typer.Option(False, "--dev"),
) -> None:
    """Run a job worker (Huey consumer). Start as many as needed, on as many machines."""
    from datatrust.worker import run_worker

    services = services_for(settings_for(dev))
    check_storage(services)
    freeze_startup_heap()
    run_worker(services, workers=workers)


def demo(dev: bool = typer.Option(False, "--dev")) -> None:
    """Seed the demo: people, a vetted buyer, two open tasks, listed items and a sale."""
    services = services_for(settings_for(dev))
    check_storage(services)
    print_demo(services)


def print_demo(services: Services) -> None:
    from datatrust.services.demo import DEMO_PASSWORD, seed_demo

    people = seed_demo(services, services.payment_rail, services.payouts)
    typer.echo(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
    for person in people:
        typer.echo(f"  {person.role.value:<12} {person.email:<26} {person.name}")


@jobs_app.command("sweep")
def jobs_sweep(dev: bool = typer.Option(False, "--dev")) -> None:
    """Return jobs whose worker died to the queue (also runs every minute in workers)."""
    report = services_for(settings_for(dev)).sweep()
    typer.echo(json.dumps({"released": report.released, "redispatched": report.redispatched}))


@jobs_app.command("auto-approve")
def jobs_auto_approve(dev: bool = typer.Option(False, "--dev")) -> None:
    """Accept and pay items whose review window passed (also runs every five minutes in
    workers). Idempotent: an item is accepted and paid once."""
    from datatrust.services.campaigns import settle_overdue_reviews

    with services_for(settings_for(dev)).uow() as uow:
        settled = settle_overdue_reviews(uow)
    typer.echo(json.dumps({"accepted": settled}))


@db_app.command("upgrade")
def db_upgrade(dev: bool = typer.Option(False, "--dev")) -> None:
    """Apply every migration to the configured database."""
    from datatrust.bootstrap import upgrade_database

    revision = upgrade_database(settings_for(dev))
    typer.echo(f"database at revision {revision}")
