"""The pipeline on local files, without a server or a database."""

from __future__ import annotations

import json

import typer


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
    from datatrust.pipeline.run import run_pipeline

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
