"""`mastery-bridge worker`: run the job queue's worker (or, without Redis, the outbox loop) and arm the nightly sync.

With MB_REDIS_URL set, `worker run` is an RQ worker with its scheduler (it runs sync and push jobs and
moves scheduled nightly syncs to the queue when due). Without it, `worker run` delivers every enabled
connection's grade outbox every few seconds and runs each connection's nightly sync itself.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import timedelta
from types import FrameType
from typing import Any

import click

from lti_tool.cli.core import CliContext, InputError, main, pass_context

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@main.group()
def worker() -> None:
    """Background work: grade pushes and the nightly SIS sync (RQ on Redis, or an inline loop)."""


def _time_of_day(text: str) -> Any:
    from lti_tool.sis.schedule import parse_time_of_day

    try:
        return parse_time_of_day(text)
    except ValueError as exc:
        raise InputError(f"--at/--nightly-at: {exc}") from exc


def _weekday(text: str | None) -> int | None:
    if text is None or text.lower() == "never":
        return None
    day = text.strip().lower()
    if day not in DAYS:
        raise InputError(f"--full-on: {text!r} is not a day of the week (monday..sunday) or 'never'")
    return DAYS.index(day)


@worker.command("run")
@click.option("--burst", is_flag=True, help="Stop when nothing is left to do instead of waiting for more.")
@click.option(
    "--queue", "queue_name", default=None, help="RQ queue name (default: MB_QUEUE_NAME, else mastery-bridge)."
)
@click.option("--lease-seconds", type=click.IntRange(1, 3600), default=120, show_default=True,
              help="Outbox lease: how long a claimed message is held before another worker may take it.")  # fmt: skip
@click.option("--poll-seconds", type=click.FloatRange(0.1, 3600), default=5.0, show_default=True,
              help="Without Redis: how long the outbox loop waits when nothing is due.")  # fmt: skip
@click.option("--nightly-at", default="02:30", show_default=True,
              help="Without Redis: run each connection's sync once a night after this UTC time ('off': never).")  # fmt: skip
@click.option("--full-on", default="sunday", show_default=True,
              help="Without Redis: the night of the weekly full reconciliation ('never': deltas only).")  # fmt: skip
@pass_context
def run(
    context: CliContext,
    burst: bool,
    queue_name: str | None,
    lease_seconds: int,
    poll_seconds: float,
    nightly_at: str,
    full_on: str,
) -> None:
    """Work on the job queue (MB_REDIS_URL) or, without one, deliver the outbox in a loop."""
    from lti_tool.sis.queue import run_rq_worker
    from lti_tool.sis.schedule import run_outbox_loop
    from lti_tool.sis.worker import DeliveryReport, RetryTiming

    settings = context.settings
    if settings.redis_url:
        click.echo(f"RQ worker on queue {queue_name or settings.queue_name} (with scheduler)", err=True)
        run_rq_worker(settings, burst=burst, queue_name=queue_name)
        return
    at = None if nightly_at.strip().lower() == "off" else _time_of_day(nightly_at)
    stop = threading.Event()

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        click.echo(f"stopping after the current batch (signal {signum})", err=True)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    def show(connection: str, report: DeliveryReport) -> None:
        click.echo(
            f"{connection}: {report.delivered} delivered, {report.retrying} to retry, {report.failed} failed,"
            f" {report.deferred} waiting for the grading window",
            err=True,
        )
        for error in report.errors:
            click.echo(f"  {error}", err=True)

    mode = "once" if burst else f"every {poll_seconds:g} s"
    click.echo(f"outbox loop without Redis ({mode})", err=True)
    total = run_outbox_loop(
        settings,
        burst=burst,
        poll_seconds=poll_seconds,
        nightly_at=at,
        full_weekday=_weekday(full_on),
        timing=RetryTiming(lease=timedelta(seconds=lease_seconds)),
        stop=stop,
        progress=show,
    )
    json.dump(total.to_json(), sys.stdout)
    sys.stdout.write("\n")


@worker.command("schedule")
@click.option(
    "--at", "at_text", default="02:30", show_default=True, help="UTC time of the nightly sync (HH:MM)."
)
@click.option("--full-on", default="sunday", show_default=True,
              help="Night of the weekly full reconciliation ('never': deltas only).")  # fmt: skip
@click.option(
    "--queue", "queue_name", default=None, help="RQ queue name (default: MB_QUEUE_NAME, else mastery-bridge)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the schedule as JSON.")
@pass_context
def schedule(context: CliContext, at_text: str, full_on: str, queue_name: str | None, as_json: bool) -> None:
    """Arm the nightly sync of every enabled connection on the job queue (replaces earlier schedules)."""
    from lti_tool.sis.queue import JobQueueError
    from lti_tool.sis.schedule import schedule_all_nightly

    at = _time_of_day(at_text)
    try:
        armed = schedule_all_nightly(
            context.settings, at=at, full_weekday=_weekday(full_on), queue_name=queue_name
        )
    except JobQueueError as exc:
        raise InputError(str(exc)) from exc
    if as_json:
        document = [
            {"connection": a.connection, "job_id": a.job_id, "runs_at": a.runs_at.isoformat()} for a in armed
        ]
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    if not armed:
        click.echo("no enabled SIS connection: nothing scheduled", err=True)
    for item in armed:
        click.echo(f"{item.connection}\t{item.runs_at:%Y-%m-%d %H:%M} UTC\t{item.job_id}")
