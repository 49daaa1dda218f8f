"""The ``protest-archive`` command line: a Flask CLI group.

``scrub`` is the group's own command and never loads the app (no database, no server).
The others (``init-db``, ``create-admin``, ``worker``, ``start``) live on ``app.cli``
(see ``cli_commands.py``), so ``flask --app archive ...`` has them too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask.cli import FlaskGroup

from archive import catalogues


def _create_app():
    from archive import create_app

    try:
        return create_app()
    except RuntimeError as err:  # a setting the archive cannot start with: say which
        raise click.ClickException(str(err)) from None


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False,
             load_dotenv=False)
def main() -> None:
    """Protest photo archive and consent manager."""


# with_appcontext=False: a FlaskGroup would otherwise build the app (and need its
# database, instance folder and secret key) before running the command.
@main.command(with_appcontext=False)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for the cleaned JPEGs (created if missing).")
@click.option("--report", "report_path", required=True, type=click.Path(dir_okay=False),
              help="Where to write the JSON report.")
@click.option("--jobs", type=click.IntRange(1, 64), default=None,
              help="Worker processes (default: the number of cores).")
@click.option("--show-values", is_flag=True,
              help="Also print the metadata values found (on this terminal only; "
                   "the report never holds them).")
def scrub(inputs: tuple[str, ...], out_dir: str, report_path: str, jobs: int | None,
          show_values: bool) -> None:
    """Anonymise photos offline: remove all metadata and obscure every face.

    INPUT may be files or folders (walked recursively). Each input becomes a JPEG in
    --out (a file already there is never replaced: the new one gets a -2 name); the
    report maps each input to its output, the obscured regions, the kinds of metadata
    removed, and any error. Exits with status 1 if any input failed.
    """
    from tqdm import tqdm

    from .imaging.batch import collect_inputs, iter_values, plan_outputs, run_batch, write_report

    try:
        # config.py reads the environment as it is imported, so a bad value shows here.
        from config import imaging_settings

        settings = imaging_settings()
    except ValueError as err:
        raise click.UsageError(f"configuration: {err}") from None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    planned = plan_outputs(collect_inputs(inputs, out), out)
    if not planned:
        raise click.UsageError("no files found in the inputs given")
    report = Path(report_path)
    _check_report_path(report, planned)
    workers = min(jobs or os.cpu_count() or 1, len(planned))
    results: dict[str, dict] = {}
    failed = 0
    with tqdm(total=len(planned), unit="photo", file=sys.stderr, disable=None,
              dynamic_ncols=True) as bar:

        def done(key: str, entry: dict, values: list) -> None:
            nonlocal failed
            results[key] = entry
            if entry["error"]:
                failed += 1
                bar.write(f"failed: {key}: {entry['error']}", file=sys.stderr)
            elif show_values and values:
                bar.write(f"{key}: metadata removed:", file=sys.stderr)
                for line in iter_values(values):
                    bar.write(line, file=sys.stderr)
            bar.update(1)

        run_batch(planned, settings, workers, done, show_values=show_values)
    write_report({job.key: results[job.key] for job in planned}, report)
    faces = sum(len(e["faces"]) for e in results.values())
    click.echo(
        f"{len(planned) - failed} of {len(planned)} photos scrubbed, {faces} faces obscured; "
        f"report: {report_path}",
        err=True,
    )
    if failed:
        click.echo(f"{failed} failed: see the report for why.", err=True)
        sys.exit(1)


def _check_report_path(report: Path, planned: list) -> None:
    """Refuse, before any work, a --report that would destroy a file or cannot be written."""
    real = report.resolve()
    if any(real in (job.src.resolve(), job.dest.resolve()) for job in planned):
        raise click.UsageError(f"--report {report} is one of the photos; choose another path")
    if report.exists():
        with open(report, "rb") as fh:
            if fh.read(1) != b"{":
                raise click.UsageError(
                    f"--report {report} exists and is not a scrub report; choose another path"
                )
    report.parent.mkdir(parents=True, exist_ok=True)
    if not os.access(report.parent, os.W_OK):
        raise click.UsageError(f"cannot write the report in {report.parent}")


@main.group(cls=click.Group)
def translate() -> None:
    """The Russian and Persian catalogues (archive/translations/)."""


@translate.command("update")
def translate_update() -> None:
    """Add new English strings to every catalogue (they arrive untranslated)."""
    for code, missing in catalogues.update().items():
        click.echo(f"{catalogues.po_path(code).relative_to(catalogues.ROOT)}: "
                   f"{missing} strings to translate or check")


@translate.command("compile")
def translate_compile() -> None:
    """Build the messages.mo files the web server reads."""
    for path in catalogues.compile_all():
        click.echo(f"wrote {path.relative_to(catalogues.ROOT)}")


@translate.command("check")
def translate_check() -> None:
    """Fail if a catalogue misses, leaves empty or marks fuzzy any string."""
    template = catalogues.extract()
    problems = [p for code in catalogues.translated()
                for p in catalogues.problems_of(code, template)]
    for problem in problems:
        click.echo(str(problem), err=True)
    if problems:
        sys.exit(1)
    click.echo(f"{len(template)} strings, every catalogue complete")


if __name__ == "__main__":
    main()
