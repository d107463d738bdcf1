"""Seed 003's contract: ``POST /api/v1/scripts/<path>`` runs the ``.py`` file at that path
under the scripts directory with ``{"data": {...}}`` and answers when it has ended.

The web process never runs scripts: the call records a run of the path's job
(``jobs.scriptpaths``) and waits for a worker to finish it, up to
``MAX_SCRIPT_EXECUTION_TIME`` seconds (then the run is cancelled). Whatever the script
did, the answer is ``200`` — ``{"success": true, "result", "execution_time"}`` or
``{"success": false, "error", "execution_time"}`` — and names the run in the header
``X-Parseq-Execution``; a bad path is 400, a missing script 404.
"""

from __future__ import annotations

import time

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from scripts_app.api import examples as ex
from scripts_app.api.errors import ParseqErrors
from scripts_app.api.permissions import CanRunJob
from scripts_app.api.responses import errors
from scripts_app.api.serializers import RunRequestSerializer, ScriptRunSerializer
from scripts_app.api.throttling import TriggerThrottle
from scripts_app.api.triggering import run_body_email, run_body_params
from scripts_app.errors import NotCancellable
from scripts_app.jobs import scriptpaths
from scripts_app.models import Execution, Trigger
from scripts_app.runs import control, dispatch, waiting


def answer(execution: Execution, waited: float, gave_up: bool = False) -> dict:
    """Seed 003's body for a run that ended, or that was given up on after ``waited`` s."""
    duration = execution.duration
    seconds = round(duration.total_seconds() if duration and not gave_up else waited, 3)
    if execution.succeeded:
        result = execution.result if execution.result is not None else {}
        return {"success": True, "result": result, "execution_time": seconds}
    error = execution.error or execution.status
    if gave_up:
        error = (
            f"the script did not finish within {settings.MAX_SCRIPT_EXECUTION_TIME} s "
            f"(MAX_SCRIPT_EXECUTION_TIME): run #{execution.pk} was cancelled"
        )
    return {"success": False, "error": error, "execution_time": seconds}


def run_to_end(execution: Execution, seconds: float) -> tuple[float, bool]:
    """Wait for the run; cancel it if it has not ended in ``seconds``.
    (Seconds waited, whether it was given up on.)"""
    started = time.monotonic()
    waiting.wait_for(execution, seconds)
    gave_up = not execution.is_final
    if gave_up:
        try:
            control.cancel(execution)
        except NotCancellable:  # it ended just now
            gave_up = False
        execution.refresh_from_db()
    return time.monotonic() - started, gave_up and not execution.succeeded


class ScriptPathView(ParseqErrors, APIView):
    permission_classes = [CanRunJob]
    throttle_classes = [TriggerThrottle]
    throttle_scope = "trigger"
    parser_classes = [JSONParser]

    @extend_schema(
        summary="Run the script at a path and answer with its result (seed 003)",
        description="Runs the `.py` file at `script_path` under the scripts directory "
        '(`PARSEQ_SCRIPTS_DIR`, default parsers/) with `{"data": {...}}` as main()\'s '
        "argument, and answers once it has ended: always 200, with `success`. A run that "
        "has not ended after `MAX_SCRIPT_EXECUTION_TIME` (300 s) is cancelled. Each call is "
        "an execution of the path's job (made on the first call); the header "
        "`X-Parseq-Execution` names it. `data.file_key`: an uploaded file the script reads "
        "with `runtime.input_file(data['file_key'])`.",
        operation_id="scripts_run",
        request=RunRequestSerializer,
        parameters=[
            OpenApiParameter(
                "script_path",
                OpenApiTypes.STR,
                OpenApiParameter.PATH,
                description="Relative to the scripts directory, e.g. test/echo.py.",
            )
        ],
        responses={
            200: ScriptRunSerializer,
            429: OpenApiResponse(description="Throttled"),
            **errors(400, 404),
        },
        examples=[
            ex.SCRIPT_REQUEST,
            ex.SCRIPT_DONE,
            ex.SCRIPT_FAILED,
            ex.SCRIPT_MISSING,
            *ex.AUTH_ERRORS,
        ],
    )
    def post(self, request, script_path: str):
        job = scriptpaths.job_for_path(script_path)
        execution = dispatch.trigger(
            job,
            params=run_body_params(request.data),
            trigger=Trigger.API,
            user=request.user,
            email=run_body_email(request),
        )
        waited, gave_up = run_to_end(execution, settings.MAX_SCRIPT_EXECUTION_TIME)
        return Response(
            answer(execution, waited, gave_up), headers={"X-Parseq-Execution": str(execution.pk)}
        )
