"""The buyer's side: check a revocation feed against a local snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import typer

feed_app = typer.Typer(help="Buyer side: the revocation feed.", no_args_is_help=True)


@feed_app.command("check")
def feed_check(
    feed: str = typer.Option(
        ...,
        "--feed",
        help="The feed as saved (compact JWS, or the API's JSON with a 'feed' field).",
    ),
    key: str = typer.Option(
        ...,
        "--key",
        help="The platform's key set (JWKS JSON, from /.well-known/jwks.json) or one JWK.",
    ),
    snapshot: str = typer.Option(..., "--snapshot", help="A local snapshot directory."),
    state: str | None = typer.Option(
        None,
        "--state",
        help="A file remembering the newest feed accepted; an older feed is then refused.",
    ),
    apply: bool = typer.Option(
        False,
        "--apply",
        help="Rewrite index.parquet without revoked "
        "records and delete their media (default: report only).",
    ),
) -> None:
    """Verify a revocation feed and list (or remove) revoked records in a local snapshot.
    Exit 1 if any revoked record is present and --apply was not given."""
    from datatrust.client import FeedError, FeedFollower, prune_snapshot

    raw = Path(feed).read_text().strip()
    token = json.loads(raw)["feed"] if raw.startswith("{") else raw
    try:
        claims = FeedFollower(json.loads(Path(key).read_text()), state).accept(token)
    except FeedError as exc:
        typer.echo(f"error ({exc.reason}): {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        report = prune_snapshot(Path(snapshot), claims, apply=apply)
    except FileNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(report, indent=2))
    if report["revoked"] and not apply:
        raise typer.Exit(1)
