"""Licences and consent receipts, offline: check a use, explain terms, verify a receipt."""

from __future__ import annotations

import json
from typing import Any

import typer

from datatrust.cli.common import invalid, prefixed, read_json
from datatrust.config import load_settings

licence_app = typer.Typer(help="Licences: check a use, explain it.", no_args_is_help=True)
consent_app = typer.Typer(help="Consent receipts.", no_args_is_help=True)


def parse_licence(data: object) -> Any:
    """A licence from a file: Datatrust's licence JSON, or an ODRL policy in any JSON-LD
    serialisation (read by meaning against this instance's IRIs, ``DATATRUST_BASE_URL``)."""
    from datatrust.domain.licence import Licence

    if isinstance(data, list) or (isinstance(data, dict) and "@context" in data):
        from datatrust.bootstrap import flatten_jsonld
        from datatrust.domain.iris import InstanceIris
        from datatrust.domain.odrl import licence_from_jsonld

        iris = InstanceIris.for_base_url(load_settings().base_url)
        return licence_from_jsonld(flatten_jsonld(data), iris)
    return Licence.from_dict(data)


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
    from datatrust.services.licensing import parse_use

    problems: list[str] = []
    licence_data = read_json(licence, "licence", problems)
    use_data = read_json(use, "use", problems)
    parsed_licence = parsed_use = None
    if licence_data is not None:
        try:
            parsed_licence = parse_licence(licence_data)
        except InvalidInput as exc:
            problems += prefixed("licence", exc.problems)
    if use_data is not None:
        try:
            parsed_use = parse_use(use_data)
        except InvalidInput as exc:
            problems += prefixed("use", exc.problems)
    if problems or parsed_licence is None or parsed_use is None:
        raise invalid(problems)
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
    from datatrust.domain.orders import unit_pay
    from datatrust.i18n import WARNING, explain_flagged, translator

    problems: list[str] = []
    data = read_json(licence, "licence", problems)
    if problems:
        raise invalid(problems)
    try:
        parsed = Licence.from_dict(data)
    except InvalidInput as exc:
        raise invalid(prefixed("licence", exc.problems)) from None
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

    from datatrust.bootstrap import b64url_decode, read_keys, verify_jwks
    from datatrust.domain.errors import InvalidInput

    try:
        text = Path(file).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise invalid([f"receipt: cannot read {file}: {exc}"]) from None
    jwk: object = None
    token: object = text
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError as exc:
            raise invalid([f"receipt: {file} is not JSON: {exc}"]) from None
        token = document.get("receipt") if isinstance(document, dict) else None
        jwk = document.get("public_jwk") if isinstance(document, dict) else None
    if key is not None:
        problems: list[str] = []
        jwk = read_json(key, "key", problems)
        if problems:
            raise invalid(problems)
    if not isinstance(token, str) or not token:
        raise invalid(["receipt: no JWS found (expected a 'receipt' field or a bare token)"])
    if not isinstance(jwk, dict):
        raise invalid(["key: no public key; pass --key JWK.json"])
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
