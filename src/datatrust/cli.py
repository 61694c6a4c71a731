"""The ``datatrust`` command."""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import typer

from datatrust.config import InsecureSettings, Settings, load_settings

app = typer.Typer(help="Datatrust: license your own data on your own terms.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
jobs_app = typer.Typer(help="Background jobs.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")
app.add_typer(jobs_app, name="jobs")


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
    }


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


def served_settings(settings: Settings, host: str, port: int) -> Settings:
    """``settings`` with ``base_url`` where ``serve`` listens when none was configured:
    the links and IRIs an instance publishes (licence IRIs in snapshots and ODRL, the
    feed's issuer, sign-up links) must resolve on the port it actually serves, not the
    default 8000. A configured ``DATATRUST_BASE_URL`` (a proxy's public URL) wins."""
    if "base_url" not in settings.model_fields_set:
        shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host
        settings.base_url = f"http://{f'[{shown}]' if ':' in shown else shown}:{port}"
    return settings


def _services(settings: Settings):  # type: ignore[no-untyped-def]
    from datatrust.bootstrap import build

    return build(settings)


def _check_storage(services) -> None:  # type: ignore[no-untyped-def]
    """Reach the object store once at start-up, which creates a missing S3 bucket: on a
    fresh S3-compatible store the first upload would otherwise fail with NoSuchBucket.
    An unreachable store is reported and not fatal (``/health`` names it, and a process
    restarted during an outage must not crash-loop)."""
    try:
        services.store.check()
    except Exception as exc:
        typer.echo(f"warning: the object store is not ready: {type(exc).__name__}: {exc}", err=True)


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

    settings = served_settings(_settings(dev), host, port)
    configure_logging()
    services = _services(settings)
    _check_storage(services)
    if demo:
        _print_demo(services)
    typer.echo(f"Datatrust on http://{host}:{port}  (API docs: http://{host}:{port}/docs)")
    uvicorn.run(create_app(services), host=host, port=port, **server_options())


@app.command()
def worker(
    workers: int = typer.Option(2, help="Worker threads in this process."),
    dev: bool = typer.Option(False, "--dev"),
) -> None:
    """Run a job worker (Huey consumer). Start as many as needed, on as many machines."""
    from datatrust.worker import run_worker

    services = _services(_settings(dev))
    _check_storage(services)
    run_worker(services, workers=workers)


@jobs_app.command("sweep")
def jobs_sweep(dev: bool = typer.Option(False, "--dev")) -> None:
    """Return jobs whose worker died to the queue (also runs every minute in workers)."""
    report = _services(_settings(dev)).sweep()
    typer.echo(json.dumps({"released": report.released, "redispatched": report.redispatched}))


@jobs_app.command("auto-approve")
def jobs_auto_approve(dev: bool = typer.Option(False, "--dev")) -> None:
    """Accept and pay items whose review window passed (also runs every five minutes in
    workers). Idempotent: an item is accepted and paid once."""
    from datatrust.services.campaigns import settle_overdue_reviews

    with _services(_settings(dev)).uow() as uow:
        settled = settle_overdue_reviews(uow)
    typer.echo(json.dumps({"accepted": settled}))


@db_app.command("upgrade")
def db_upgrade(dev: bool = typer.Option(False, "--dev")) -> None:
    """Apply every migration to the configured database."""
    from datatrust.bootstrap import upgrade_database

    revision = upgrade_database(_settings(dev))
    typer.echo(f"database at revision {revision}")


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

    from datatrust.adapters.crypto import read_keys, verify_jwks
    from datatrust.domain.errors import InvalidInput
    from datatrust.domain.permissions import Actor, Role
    from datatrust.services.audit import read_checkpoint, verify_audit_log

    services = _services(_settings(dev))
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
    from datatrust.services.audit import sign_checkpoint

    services = _services(_settings(dev))
    with services.uow() as uow:
        signed = sign_checkpoint(uow, services.signer)
    typer.echo(json.dumps(signed.document(), indent=2))


@app.command()
def demo(dev: bool = typer.Option(False, "--dev")) -> None:
    """Seed the demo: people, a vetted buyer, two open tasks, listed items and a sale."""
    services = _services(_settings(dev))
    _check_storage(services)
    _print_demo(services)


def _print_demo(services) -> None:  # type: ignore[no-untyped-def]
    from datatrust.services.demo import DEMO_PASSWORD, seed_demo

    people = seed_demo(services, services.payment_rail, services.payouts)
    typer.echo(f"Demo accounts (password for all: {DEMO_PASSWORD}):")
    for person in people:
        typer.echo(f"  {person.role.value:<12} {person.email:<26} {person.name}")


@app.command()
def ingest(
    file: str = typer.Argument(..., help="The file to run through the pipeline."),
    kind: str = typer.Option(..., "--kind", help="photo, video, ambient, voice, call or chat."),
    transcript: str | None = typer.Option(
        None, "--transcript", help="A call's transcript (a UTF-8 text file), redacted too."
    ),
    me: str | None = typer.Option(
        None, "--me", help="For a chat: your name as the export shows it (default: first sender)."
    ),
    output: str | None = typer.Option(
        None, "--output", help="Write the de-identified version here."
    ),
    lat: float | None = typer.Option(None, help="Where it was captured (kept only as H3 cell)."),
    lng: float | None = typer.Option(None),
    confirmed: bool = typer.Option(
        False,
        "--confirmed",
        help="For a call: the other side has confirmed; show what ships then (the audio and "
        "the whole pseudonymised transcript) instead of the contributor's turns alone.",
    ),
) -> None:
    """Run the whole pipeline on a local file, without a server or a database, and print
    the report as JSON: verdict, reasons, quality figures, what was removed. Exit 1 when
    the file is rejected."""
    import shutil
    import tempfile
    from pathlib import Path

    from datatrust.domain.items import ItemKind
    from datatrust.services.ingest import run_pipeline

    if kind not in {k.value for k in ItemKind}:
        typer.echo(f"error: --kind must be one of {', '.join(k.value for k in ItemKind)}", err=True)
        raise typer.Exit(2)
    if confirmed and kind != ItemKind.CALL.value:
        typer.echo("error: --confirmed is for --kind call (the other side's consent)", err=True)
        raise typer.Exit(2)
    path = Path(file)
    if not path.is_file():
        typer.echo(f"error: no such file: {file}", err=True)
        raise typer.Exit(2)
    text = None
    if transcript is not None:
        try:
            text = Path(transcript).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            typer.echo(f"error: cannot read the transcript {transcript}: {exc}", err=True)
            raise typer.Exit(2) from None
    metadata = {"lat": lat, "lng": lng} if lat is not None and lng is not None else None
    with tempfile.TemporaryDirectory(prefix="datatrust-ingest-") as work:
        result = run_pipeline(
            path,
            kind,
            work_dir=work,
            filename=path.name,
            metadata=metadata,
            transcript=text,
            me=me,
            guess_me=True,
            others_confirmed=confirmed,
        )
        report = dict(result.report, h3_cell=result.h3_cell, fingerprints=result.fingerprints)
        if result.accepted:  # the stages that need the platform's database and storage
            for stage in ("duplicates", "store"):
                report["stages"][stage] = {"result": "skipped", "why": "run without a server"}
        if result.redacted_transcript is not None:
            report["transcript"] = dict(report["transcript"], text=result.redacted_transcript)
        if output and result.output_path:
            shutil.copyfile(result.output_path, output)
            report["output"] = dict(report.get("output", {}), path=output)
    typer.echo(json.dumps(report, indent=2, ensure_ascii=False, default=str))
    if not result.accepted:
        raise typer.Exit(1)


@app.command("redact-text")
def redact_text(file: str = typer.Argument(..., help="A UTF-8 text file.")) -> None:
    """Print JSON with the redacted text and every span found (start, end, type); offsets
    index the original text, whose values are left out of the report."""
    from pathlib import Path

    from datatrust.pipeline.text_pii import redact_text_report

    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"error: cannot read {file} as UTF-8 text: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(redact_text_report(text), indent=2, ensure_ascii=False))


# --- licences and consent (issue 3) ---------------------------------------------------

licence_app = typer.Typer(help="Licences: check a use, explain it.", no_args_is_help=True)
consent_app = typer.Typer(help="Consent receipts.", no_args_is_help=True)
app.add_typer(licence_app, name="licence")
app.add_typer(consent_app, name="consent")


def _read_json(path: str, what: str, problems: list[str]) -> object:
    from pathlib import Path

    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        problems.append(f"{what}: cannot read {path}: {exc.strerror or exc}")
    except (ValueError, UnicodeDecodeError) as exc:
        problems.append(f"{what}: {path} is not JSON: {exc}")
    return None


def _parse_licence(data: object) -> Any:
    """A licence from a file: Datatrust's licence JSON, or an ODRL policy in any JSON-LD
    serialisation (read by meaning against this instance's IRIs, ``DATATRUST_BASE_URL``)."""
    from datatrust.domain.licence import Licence

    if isinstance(data, list) or (isinstance(data, dict) and "@context" in data):
        from datatrust.adapters import jsonld
        from datatrust.domain.iris import InstanceIris
        from datatrust.domain.odrl import licence_from_jsonld

        iris = InstanceIris.for_base_url(load_settings().base_url)
        return licence_from_jsonld(jsonld.flatten(data), iris)
    return Licence.from_dict(data)


def _invalid(problems: list[str]) -> typer.Exit:
    """Exit 2 with every problem, as JSON on stdout and one per line on stderr."""
    typer.echo(json.dumps({"error": "invalid input", "problems": problems}, indent=2))
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    return typer.Exit(2)


def _prefixed(prefix: str, problems: list[str]) -> list[str]:
    return [f"{prefix}.{p}" if ":" in p else f"{prefix}: {p}" for p in problems]


@licence_app.command("check")
def licence_check(
    licence: str = typer.Option(
        ..., "--licence", help="The licence, as JSON, or an ODRL policy in JSON-LD."
    ),
    use: str = typer.Option(..., "--use", help="The declared use, as JSON."),
    state: str = typer.Option("active", help="The consent state: active, withdrawn, expired."),
) -> None:
    """Evaluate a use against a licence. Prints the decision and its reasons as JSON;
    exit 0 allowed, 1 denied, 2 invalid input (every problem named).

    The use is judged now (this machine's clock, never a time the buyer sends) and against
    this instance's denied industries (``DATATRUST_DENIED_INDUSTRIES``), as a selection is.
    """
    from datatrust.domain.clock import utcnow
    from datatrust.domain.errors import InvalidInput
    from datatrust.domain.licence import evaluate
    from datatrust.services.licences import parse_use

    problems: list[str] = []
    licence_data = _read_json(licence, "licence", problems)
    use_data = _read_json(use, "use", problems)
    parsed_licence = parsed_use = None
    if licence_data is not None:
        try:
            parsed_licence = _parse_licence(licence_data)
        except InvalidInput as exc:
            problems += _prefixed("licence", exc.problems or [exc.message])
    if use_data is not None:
        try:
            parsed_use = parse_use(use_data)
        except InvalidInput as exc:
            problems += _prefixed("use", exc.problems)
    if problems or parsed_licence is None or parsed_use is None:
        raise _invalid(problems)
    decision = evaluate(
        parsed_licence,
        parsed_use,
        utcnow(),
        state=state,
        denied_industries=load_settings().policy().denied_industries,
    )
    typer.echo(
        json.dumps(
            {
                "allowed": decision.allowed,
                "reasons": [{"code": str(r.code), "text": r.text} for r in decision.reasons],
            },
            indent=2,
        )
    )
    raise typer.Exit(0 if decision.allowed else 1)


@licence_app.command("explain")
def licence_explain(
    licence: str = typer.Argument(..., help="The licence, as JSON."),
    lang: str = typer.Option("en", "--lang", help="Language (BCP 47), e.g. en, hi or zu."),
    as_json: bool = typer.Option(False, "--json", help="Sentences with their risk flags."),
) -> None:
    """Print the licence in plain words, one sentence per line, each risk marked with a
    warning and its flag. The money is stated as a sale on this instance would charge
    and pay it (its ``DATATRUST_PLATFORM_FEE_PERCENT``)."""
    from datatrust.domain.errors import InvalidInput
    from datatrust.domain.licence import Licence
    from datatrust.i18n import WARNING, explain_flagged, translator
    from datatrust.services.orders import unit_pay

    problems: list[str] = []
    data = _read_json(licence, "licence", problems)
    if problems:
        raise _invalid(problems)
    try:
        parsed = Licence.from_dict(data)
    except InvalidInput as exc:
        raise _invalid(_prefixed("licence", exc.problems)) from None
    pay = unit_pay(parsed, load_settings().policy().platform_fee_percent)
    flagged = explain_flagged(parsed, lang, pay)
    if as_json:
        typer.echo(
            json.dumps(
                [{"text": text, "risk": risk} for text, risk in flagged],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    warning = translator(lang).gettext(WARNING)
    for sentence, risk in flagged:
        typer.echo(f"{warning} {sentence} [{risk}]" if risk else sentence)


@consent_app.command("verify-receipt")
def consent_verify_receipt(
    file: str = typer.Argument(..., help="A receipt file, as downloaded, or a bare JWS."),
    key: str | None = typer.Option(
        None,
        "--key",
        help="The platform's key (JWK) or key set (/.well-known/jwks.json). "
        "Default: the key in FILE.",
    ),
) -> None:
    """Verify a consent receipt offline. Exit 0 valid, 1 invalid, 2 unreadable input.

    A receipt file carries the platform's public key, which proves the receipt was not
    altered since that key signed it; compare the key id printed with the one the
    platform publishes (or pass it with --key) to know that the platform signed it.
    """
    from pathlib import Path

    from datatrust.adapters.crypto import b64url_decode, read_keys, verify_jwks
    from datatrust.domain.errors import InvalidInput

    try:
        text = Path(file).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise _invalid([f"receipt: cannot read {file}: {exc}"]) from None
    jwk: object = None
    token: object = text
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise _invalid([f"receipt: {file} is not JSON: {exc}"]) from None
        token = document.get("receipt") if isinstance(document, dict) else None
        jwk = document.get("public_jwk") if isinstance(document, dict) else None
    if key is not None:
        problems: list[str] = []
        jwk = _read_json(key, "key", problems)
        if problems:
            raise _invalid(problems)
    if not isinstance(token, str) or not token:
        raise _invalid(["receipt: no JWS found (expected a 'receipt' field or a bare token)"])
    if not isinstance(jwk, dict):
        raise _invalid(["key: no public key; pass --key JWK.json"])
    try:
        # --key may be the instance's whole key set (/.well-known/jwks.json): the receipt's
        # key id picks the key, a retired one included.
        keys = read_keys(jwk)
        claims = verify_jwks(token, keys)
    except InvalidInput as exc:
        typer.echo(json.dumps({"valid": False, "problem": exc.message}, indent=2))
        raise typer.Exit(1) from None
    header = json.loads(b64url_decode(token.split(".")[0]))
    jwk = next((k for k in keys["keys"] if k.get("kid") == header.get("kid")), keys["keys"][0])
    event = claims.get("event", {})
    typer.echo(
        json.dumps(
            {
                "valid": True,
                "kid": jwk.get("kid"),
                "record_id": claims.get("record_id"),
                "event": event.get("type"),
                "at": event.get("at"),
                "resulting_state": event.get("resulting_state"),
                "claims": claims,
            },
            indent=2,
            ensure_ascii=False,
        )
    )


feed_app = typer.Typer(help="Buyer side: the revocation feed.", no_args_is_help=True)
app.add_typer(feed_app, name="feed")


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
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.parquet as pq

    from datatrust.client import FeedError, FeedFollower, filter_allowed

    raw = Path(feed).read_text().strip()
    token = json.loads(raw)["feed"] if raw.startswith("{") else raw
    try:
        claims = FeedFollower(json.loads(Path(key).read_text()), state).accept(token)
    except FeedError as exc:
        typer.echo(f"error ({exc.reason}): {exc}", err=True)
        raise typer.Exit(2) from None
    root = Path(snapshot)
    index = root / "index.parquet"
    if not index.is_file():
        typer.echo(f"error: {index} not found; is this a Datatrust snapshot?", err=True)
        raise typer.Exit(2)
    table = pq.read_table(index)
    rows = table.to_pylist()
    kept = filter_allowed(rows, claims)
    removed = [r for r in rows if r not in kept]
    report = {
        "records": len(rows),
        "kept": len(kept),
        "revoked": [{"key": r["key"], "content_sha256": r["content_sha256"]} for r in removed],
    }
    if apply and removed:
        pq.write_table(pa.Table.from_pylist(kept, schema=table.schema), index)
        for r in removed:
            for path in root.rglob(f"{r['key']}.*"):
                path.unlink()
        report["applied"] = True
    typer.echo(json.dumps(report, indent=2))
    if removed and not apply:
        raise typer.Exit(1)


@app.command()
def passport(
    item: int = typer.Argument(..., help="The item's id."),
    email: str = typer.Option(..., "--as", help="The contributor's email (the item's owner)."),
    dev: bool = typer.Option(False, "--dev"),
) -> None:
    """Print an item's data passport: every audit event about it, for its owner."""
    from datatrust.domain.accounts import User
    from datatrust.domain.errors import DomainError
    from datatrust.services.accounts import actor_for
    from datatrust.services.passport import item_passport

    services = _services(_settings(dev))
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


ledger_app = typer.Typer(help="The double-entry ledger.", no_args_is_help=True)
app.add_typer(ledger_app, name="ledger")


@ledger_app.command("check")
def ledger_check(
    dev: bool = typer.Option(False, "--dev"),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Verify every entry balances and every cached balance matches its postings; print a
    reconciliation report. Exit 1 when anything is wrong."""
    from datatrust.domain.permissions import Actor, Role
    from datatrust.services.money import check_ledger

    services = _services(_settings(dev))
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


fx_app = typer.Typer(
    help="Exchange rates for showing approximate local values.", no_args_is_help=True
)
app.add_typer(fx_app, name="fx")


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
        raise _invalid([f"--date: a date as YYYY-MM-DD, got {on!r}"]) from None
    services = _services(_settings(dev))
    try:
        with services.uow() as uow:
            row = set_fx_rate(uow, Actor(Role.OPERATOR, user_id=0), base, quote, rate, as_of)
    except DomainError as exc:
        raise _invalid(getattr(exc, "problems", None) or [exc.message]) from None
    typer.echo(f"1 {row.base} = {row.rate} {row.quote} on {row.as_of.isoformat()}")


@fx_app.command("list")
def fx_list(dev: bool = typer.Option(False, "--dev")) -> None:
    """Every recorded rate, newest first."""
    from datatrust.domain.permissions import Actor, Role
    from datatrust.services.money import list_fx_rates

    services = _services(_settings(dev))
    with services.uow() as uow:
        rows = list_fx_rates(uow, Actor(Role.OPERATOR, user_id=0))
    if not rows:
        typer.echo("no exchange rates yet: datatrust fx set USD ZAR 18.25")
    for row in rows:
        typer.echo(f"{row.as_of.isoformat()}  1 {row.base} = {row.rate} {row.quote}")


def main() -> None:  # pragma: no cover
    app(prog_name="datatrust")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
