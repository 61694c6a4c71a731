"""What every command shares: settings (refusing development secrets outside dev mode),
the bootstrapped services, and how problems are reported."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from datatrust.config import InsecureSettings, Settings, load_settings
from datatrust.domain.errors import Problem

if TYPE_CHECKING:
    from datatrust.bootstrap import Services


def settings_for(dev: bool = False) -> Settings:
    if dev:
        os.environ["DATATRUST_DEV_MODE"] = "1"
    settings = load_settings()
    try:
        settings.check_secrets()
    except InsecureSettings as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    return settings


def services_for(settings: Settings) -> Services:
    # Imported here: the offline commands (licence, consent, feed, ingest) never load the
    # database, queue and storage stack.
    from datatrust.bootstrap import build

    return build(settings)


def check_storage(services: Services) -> None:
    """Reach the object store once at start-up, which creates a missing S3 bucket: on a
    fresh S3-compatible store the first upload would otherwise fail with NoSuchBucket.
    An unreachable store is reported and not fatal (``/health`` names it, and a process
    restarted during an outage must not crash-loop)."""
    try:
        services.store.check()
    except Exception as exc:
        typer.echo(f"warning: the object store is not ready: {type(exc).__name__}: {exc}", err=True)


def read_json(path: str, what: str, problems: list[str]) -> object:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        problems.append(f"{what}: cannot read {path}: {exc.strerror or exc}")
    except (ValueError, UnicodeDecodeError) as exc:
        problems.append(f"{what}: {path} is not JSON: {exc}")
    return None


def invalid(problems: Sequence[str | Problem]) -> typer.Exit:
    """Exit 2 with every problem (``"field: text"``), as JSON on stdout and one per line on
    stderr."""
    problems = [str(p) for p in problems]
    typer.echo(json.dumps({"error": "invalid input", "problems": problems}, indent=2))
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    return typer.Exit(2)


def prefixed(prefix: str, problems: Iterable[str | Problem]) -> list[str]:
    """Each problem as ``"prefix.field: text"`` (or ``"prefix: text"`` without a field)."""
    out = []
    for p in problems:
        if isinstance(p, Problem):
            out.append(f"{prefix}.{p.field}: {p.text}" if p.field else f"{prefix}: {p.text}")
        else:
            out.append(f"{prefix}.{p}" if ":" in p else f"{prefix}: {p}")
    return out
