"""Run a job now: in the foreground (printing its log as it comes) or via the queue."""

from __future__ import annotations

import json
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from scripts_app.errors import InvalidParams, InvalidRecipients, JobNotRunnable
from scripts_app.models import Execution, Job, Status, Trigger
from scripts_app.runs import dispatch, waiting
from scripts_app.worker import execution


class Command(BaseCommand):
    help = "Run a job now. Exits 0 only if the run succeeded."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="The job's slug.")
        self.add_run_arguments(parser)

    def add_run_arguments(self, parser):
        parser.add_argument(
            "--params", default="{}", help="Run parameters, a JSON object: '{\"n\": 5}'."
        )
        parser.add_argument(
            "--enqueue",
            action="store_true",
            help="Send the run to the workers instead of running it here; waits unless --no-wait.",
        )
        parser.add_argument("--no-wait", action="store_true", help="With --enqueue: do not wait.")
        parser.add_argument(
            "--email",
            action="append",
            help="Mail the outcome of this run to this address (repeat, or comma-separate).",
        )

    def handle(self, *args, **options) -> str:
        """Run it; the result as JSON (printed, and what ``call_command`` returns).
        CommandError when the run did not succeed (exit status 1)."""
        job = self.get_job(options["slug"])
        params = self.params(options["params"])
        trigger = {"params": params, "trigger": Trigger.CLI, "email": options.get("email")}
        try:
            if options["enqueue"]:
                run = dispatch.trigger(job, **trigger)
            else:  # claimed as it is recorded, when it fits the caps: no worker takes it
                run, claimed = execution.trigger_here(job, **trigger)
        except InvalidParams as exc:
            raise CommandError(f"invalid params: {exc}") from None
        except (JobNotRunnable, InvalidRecipients) as exc:
            raise CommandError(str(exc)) from None
        if options["enqueue"]:
            self.stderr.write(f"queued execution #{run.pk}")
            if options["no_wait"]:
                return ""
            run = waiting.wait_for(run, poll=0.2)
        elif claimed:
            run = execution.carry_out(run.pk, echo=self.echo)
        else:
            run = self.run_here(run)
        return self.report(run)

    @staticmethod
    def params(value) -> dict:
        """``--params`` is JSON text; ``call_command(..., params={...})`` passes the object."""
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise CommandError(f"--params is not valid JSON: {exc}") from None

    def run_here(self, run: Execution) -> Execution:
        """Run in this process once a concurrency cap leaves a free slot."""
        while True:
            done = execution.execute(run.pk, echo=self.echo)
            if done is not None:
                return done
            run.refresh_from_db()
            if run.status != Status.QUEUED:  # a worker took it, or it was cancelled
                return waiting.wait_for(run, poll=0.2)
            time.sleep(1)

    def get_job(self, slug: str) -> Job:
        try:
            return Job.objects.get(slug=slug)
        except Job.DoesNotExist:
            raise CommandError(f"no job with slug {slug!r}") from None

    def echo(self, data: bytes) -> None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()

    def report(self, run: Execution) -> str:
        duration = run.duration.total_seconds() if run.duration else 0.0
        line = f"execution #{run.pk} {run.status} in {duration:.2f} s"
        if run.error:
            line += f": {run.error}"
        if not run.succeeded:
            raise CommandError(line)  # manage.py prints it and exits 1
        self.stderr.write(line)
        if run.result is None:
            return ""
        return json.dumps(run.result, indent=2, ensure_ascii=False)


class SlugCommand(Command):
    """``manage.py <slug> [--params JSON] [--email ADDRESS] [--enqueue]``, and
    ``call_command("<slug>", params={...}, email="a@b.c")`` from code (see ``cli.py``)."""

    def __init__(self, *args, slug: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.slug = slug
        self.help = f"Run the job “{slug}” now. Exits 0 only if the run succeeded."

    def add_arguments(self, parser):
        self.add_run_arguments(parser)

    def handle(self, *args, **options):
        return super().handle(*args, slug=self.slug, **options)

    def create_parser(self, prog_name, subcommand, **kwargs):
        return super().create_parser(prog_name, self.slug, **kwargs)
