"""The audit log and what it tells a contributor: verify, checkpoint, an item's passport."""

from __future__ import annotations

import json

import typer

from datatrust.cli.common import services_for, settings_for

audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    checkpoint: list[str] = typer.Option(
        [],
        "--checkpoint",
        help="A signed checkpoint kept elsewhere (as /api/audit/checkpoint returns it, or "
        "the bare JWS); the log must still hold it. Repeat for several.",
    ),
    key: str | None = typer.Option(
        None,
        "--key",
        help="The instance's public key (JWK) or key set (JWKS, retired keys included) kept "
        "elsewhere; default: the configured keys.",
    ),
    dev: bool = typer.Option(False, "--dev"),
) -> None:
    """Recompute the audit chain and compare its head and any checkpoints. Exit 1 naming
    the problem (an altered event, a truncated log, a rewritten history, a checkpoint that
    does not verify), 0 when all holds."""
    from pathlib import Path

    from datatrust.bootstrap import read_keys, verify_jwks
    from datatrust.domain.errors import InvalidInput
    from datatrust.domain.permissions import Actor, Role
    from datatrust.services.trust import read_checkpoint, verify_audit_log

    services = services_for(settings_for(dev))
    verify = services.signer.verify
    if key is not None:
        try:
            jwk = json.loads(Path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            typer.echo(f"error: cannot read the key {key}: {exc}", err=True)
            raise typer.Exit(1) from None
        try:
            keys = read_keys(jwk)  # one JWK, or the key set with retired keys
        except InvalidInput as exc:
            typer.echo(f"error: {key}: {exc.message}", err=True)
            raise typer.Exit(1) from None
        verify = lambda token: verify_jwks(token, keys)  # noqa: E731
    checkpoints = []
    for name in checkpoint:
        try:
            checkpoints.append(read_checkpoint(Path(name).read_text(encoding="utf-8"), verify))
        except (OSError, UnicodeDecodeError, InvalidInput) as exc:
            typer.echo(json.dumps({"ok": False, "checkpoint": name, "problem": str(exc)}))
            typer.echo(f"checkpoint {name} cannot be used: {exc}", err=True)
            raise typer.Exit(1) from None
    with services.uow() as uow:
        report = verify_audit_log(uow, Actor(Role.OPERATOR, user_id=0), checkpoints=checkpoints)
    typer.echo(json.dumps(report.__dict__))
    if not report.ok:
        typer.echo(f"audit log broken at event {report.first_bad_seq}: {report.problem}", err=True)
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(dev: bool = typer.Option(False, "--dev")) -> None:
    """Print a signed checkpoint of the log as it is now (JSON; keep it somewhere else)."""
    from datatrust.services.trust import sign_checkpoint

    services = services_for(settings_for(dev))
    with services.uow() as uow:
        signed = sign_checkpoint(uow, services.signer)
    typer.echo(json.dumps(signed.document(), indent=2))


def passport(
    item: int = typer.Argument(..., help="The item's id."),
    email: str = typer.Option(..., "--as", help="The contributor's email (the item's owner)."),
    dev: bool = typer.Option(False, "--dev"),
) -> None:
    """Print an item's data passport: every audit event about it, for its owner."""
    from datatrust.domain.accounts import User
    from datatrust.domain.errors import DomainError
    from datatrust.services.accounts import actor_for
    from datatrust.services.trust import item_passport

    services = services_for(settings_for(dev))
    with services.uow() as uow:
        user = uow.one(User, email=email.strip().lower())
        if user is None:
            typer.echo(f"error: no account {email}", err=True)
            raise typer.Exit(2)
        try:
            doc = item_passport(uow, actor_for(uow, user), item)
        except DomainError as exc:  # not theirs, or no such item: the same answer
            typer.echo(f"error: {exc.message}", err=True)
            raise typer.Exit(2) from None
    for e in doc["events"]:
        details = ", ".join(f"{k}={v}" for k, v in e["details"].items() if k != "use")
        typer.echo(f"{e['at']}  {e['step']:<22} {e['actor']:<8} {details}")
