"""`python -m app`: operations without a browser, a thin shell over the same core the UI uses.

Exit codes: 0 done; 1 the operation ran and failed (a failed run, unhealthy); 2 usage (unknown command, job
or status, bad value); 3 configuration that cannot be used (a placement key, see app.config); 4 the database
or a source cannot be used. `--json` and `--verbose` go before or after the command; JSON shapes: app/shapes.py.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import click

import app.jobs.builtin  # noqa: F401  # the composition root: built-in and dataset jobs join the catalogue
from app import shapes
from app.cli.actions import pause, purge, reset, resume, resync, run, trigger
from app.cli.context import EXIT_CONFIG, EXIT_USAGE, Context, exit_with
from app.cli.reports import config, datasets, health, history, jobs, queue, status
from app.cli.worker import worker

GLOBAL_FLAGS = ("--json", "--verbose", "-v")


class _Group(click.Group):
    """Global flags are accepted after the command too: `status --json` is `--json status`."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        end = args.index("--") if "--" in args else len(args)
        flags = [a for a in args[:end] if a in GLOBAL_FLAGS]
        rest = [a for a in args[:end] if a not in GLOBAL_FLAGS] + args[end:]
        return super().parse_args(ctx, flags + rest)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            if ctx.params.get("as_json"):  # machines get the documented error object too
                error = {"error": {"kind": "usage", "message": exc.format_message(), "exit_code": EXIT_USAGE}}
                click.echo(shapes.to_json(error, ZoneInfo("UTC")))
            raise


@click.group(cls=_Group)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output (documented shapes).")
@click.option("--verbose", "-v", is_flag=True, help="Full error text: whole messages and their causes.")
@click.pass_context
def main(ctx: click.Context, as_json: bool, verbose: bool) -> None:
    """Freshdash operations: status, jobs, runs, history, retention, health, config."""
    ctx.obj = Context(as_json, verbose)
    settings = ctx.obj.settings
    for issue in settings.issues:
        click.echo(f"warning: {issue}", err=True)
    if settings.fatal and ctx.invoked_subcommand != "config":
        # A key that decides where data lives is invalid: never fall back to another database.
        exit_with("; ".join(str(issue) for issue in settings.fatal), EXIT_CONFIG)


# The commands: read-only reports (reports.py), operator actions (actions.py), the headless worker (worker.py).
for command in (config, datasets, status, jobs, queue, history, health):
    main.add_command(command)
for command in (trigger, reset, run, pause, resume, purge, resync, worker):
    main.add_command(command)
main.add_command(pause, name="disable")
main.add_command(resume, name="enable")
