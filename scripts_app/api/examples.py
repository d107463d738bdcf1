"""OpenAPI examples shown in the Swagger UI and ReDoc."""

from drf_spectacular.utils import OpenApiExample

JOB_RESPONSE = OpenApiExample(
    "A job",
    response_only=True,
    value={
        "url": "http://127.0.0.1:8000/api/v1/jobs/csv-stats/",
        "name": "CSV stats",
        "slug": "csv-stats",
        "description": "Counts rows of an uploaded CSV.",
        "script_path": "",
        "enabled": True,
        "default_params": {},
        "params_schema": {
            "type": "object",
            "properties": {"input_files": {"type": "array", "items": {"type": "string"}}},
        },
        "env": {},
        "requirements": "",
        "timeout": 600,
        "queue": "default",
        "cron": "0 6 * * *",
        "timezone": "Europe/Berlin",
        "start_at": None,
        "repeat_every": None,
        "misfire_policy": "coalesce",
        "overlap_policy": "skip",
        "max_concurrency": None,
        "max_retries": 0,
        "retry_backoff": 30,
        "memory_limit_mb": None,
        "cpu_time_limit": None,
        "log_limit_bytes": None,
        "output_limit_bytes": None,
        "notify_on": "never",
        "notify_emails": "",
        "script_name": "csv_stats.py",
        "current_version": {
            "sha256": "9f2c…",
            "size": 512,
            "source": "scripts/csv-stats/csv_stats.py",
            "created_at": "2026-01-31T12:00:00Z",
            "dependencies": ["beautifulsoup4>=4.12"],
            "requires_python": ">=3.11",
            "lock": "# parseq lock 1: uv 0.13.9, CPython 3.11, linux x86_64\n"
            "beautifulsoup4==4.15.0 \\\n    --hash=sha256:…\nsoupsieve==4.1.3 \\\n"
            "    --hash=sha256:…\n",
            "lock_sha256": "64b2f97cd27f…",
            "packages": [
                {"name": "beautifulsoup4", "version": "4.15.0"},
                {"name": "soupsieve", "version": "4.1.3"},
            ],
            "environments": [
                {
                    "host": "worker-1",
                    "cache_id": "3f2a…",
                    "size_bytes": 2457600,
                    "build_seconds": 0.8,
                    "recorded_at": "2026-01-31T12:01:00Z",
                }
            ],
        },
        "dependency_error": "",
        "next_run_at": "2026-02-01T05:00:00Z",
        "created_at": "2026-01-31T12:00:00Z",
        "updated_at": "2026-01-31T12:00:00Z",
    },
)
JOB_CREATE = OpenApiExample(
    "Create (multipart fields)",
    request_only=True,
    value={
        "name": "CSV stats",
        "slug": "csv-stats",
        "script": "(the .py file)",
        "cron": "0 6 * * *",
        "timezone": "Europe/Berlin",
        "params_schema": '{"type": "object"}',
    },
)
JOB_PATCH = OpenApiExample("Disable automatic runs", request_only=True, value={"enabled": False})
RUN_REQUEST = OpenApiExample(
    "Params",
    request_only=True,
    value={"data": {"name": "World", "input_files": ["uploads/3f2a9c0e5b7d4e1f.csv"]}},
)
RUN_STARTED = OpenApiExample(
    "Queued",
    response_only=True,
    status_codes=["202"],
    value={"id": 42, "status": "queued", "url": "http://127.0.0.1:8000/api/v1/executions/42/"},
)
RUN_SUMMARY = OpenApiExample(
    "Ended within ?wait",
    response_only=True,
    status_codes=["200"],
    value={
        "id": 42,
        "status": "succeeded",
        "success": True,
        "result": {"rows": 3},
        "error": "",
        "execution_time": 0.21,
    },
)
RUN_INVALID = OpenApiExample(
    "Invalid params",
    response_only=True,
    status_codes=["400"],
    value={
        "detail": "The params are invalid.",
        "errors": [{"path": "$.count", "message": "'x' is not of type 'integer'"}],
    },
)
EXECUTION = OpenApiExample(
    "A run",
    response_only=True,
    value={
        "id": 42,
        "job": "csv-stats",
        "status": "succeeded",
        "trigger": "api",
        "triggered_by": "bob",
        "scheduled_for": None,
        "params": {"input_files": ["uploads/3f2a9c0e5b7d4e1f.csv"]},
        "result": {"rows": 3, "report": "runs/42/report.json"},
        "error": "",
        "exit_code": 0,
        "attempt": 1,
        "retry_of": None,
        "script_sha256": "9f2c…",
        "log_size": 120,
        "created_at": "2026-01-31T12:00:00Z",
        "started_at": "2026-01-31T12:00:01Z",
        "finished_at": "2026-01-31T12:00:02Z",
        "artifacts": [
            {
                "name": "output.txt",
                "size": 12,
                "content_type": "text/plain",
                "created_at": "2026-01-31T12:00:02Z",
            }
        ],
    },
)
EXECUTION_PAGE = OpenApiExample(
    "A page",
    response_only=True,
    value={
        "next": "http://127.0.0.1:8000/api/v1/executions/?cursor=cD0yMDI2&job=csv-stats",
        "previous": None,
        "results": [{k: v for k, v in EXECUTION.value.items() if k != "artifacts"}],
    },
)
ARTIFACTS = OpenApiExample(
    "Output files",
    response_only=True,
    value=[
        {
            "name": "output.txt",
            "size": 12,
            "content_type": "text/plain",
            "created_at": "2026-01-31T12:00:02Z",
        },
        {
            "name": "charts/rows.png",
            "size": 2048,
            "content_type": "image/png",
            "created_at": "2026-01-31T12:00:02Z",
        },
    ],
)
FILE_STORED = OpenApiExample(
    "Stored", response_only=True, value={"key": "uploads/3f2a9c0e5b7d4e1f.csv", "size": 1234}
)
FILE_INFO = OpenApiExample(
    "Info",
    response_only=True,
    value={"key": "uploads/3f2a9c0e5b7d4e1f.csv", "size": 1234, "content_type": "text/csv"},
)
NOT_AUTHENTICATED = OpenApiExample(
    "Not logged in",
    response_only=True,
    status_codes=["401"],
    value={"detail": "Authentication credentials were not provided."},
)
FORBIDDEN = OpenApiExample(
    "Missing permission",
    response_only=True,
    status_codes=["403"],
    value={"detail": "You do not have permission to perform this action."},
)
NOT_FOUND = OpenApiExample(
    "Not found", response_only=True, status_codes=["404"], value={"detail": "Not found."}
)
BAD_KEY = OpenApiExample(
    "Bad key",
    response_only=True,
    status_codes=["400"],
    value={"detail": "The key must not contain '.' or '..' parts."},
)
TOO_LARGE = OpenApiExample(
    "Too large",
    response_only=True,
    status_codes=["413"],
    value={"detail": "The file is 200,000,000 bytes; the limit is 104,857,600 bytes."},
)
ALREADY_ENDED = OpenApiExample(
    "Already ended",
    response_only=True,
    status_codes=["409"],
    value={"detail": "run #42 has already ended (succeeded)"},
)
JOB_BUSY = OpenApiExample(
    "Runs still active",
    response_only=True,
    status_codes=["409"],
    value={"detail": "csv-stats has 1 queued or running run(s); cancel them first."},
)
FIELD_ERRORS = OpenApiExample(
    "Field errors",
    response_only=True,
    status_codes=["400"],
    value={"cron": ["“61 * * * *” is not a valid cron expression."]},
)
# Every operation shows these next to its own examples.
TRIGGER_TOKEN = OpenApiExample(
    "A new trigger token (shown this once)",
    response_only=True,
    status_codes=["201"],
    value={"token": "b3NlLXJhbmRvbS10b2tlbi1zaG93bi1vbmNl…"},
)
BAD_RECIPIENTS = OpenApiExample(
    "A recipient that is no e-mail address",
    response_only=True,
    status_codes=["400"],
    value={
        "detail": "“ann@” is not an e-mail address.",
        "email": ["“ann@” is not an e-mail address."],
    },
)
SCRIPT_REQUEST = OpenApiExample(
    "Seed 003's example",
    request_only=True,
    value={"data": {"name": "John", "value": 42}},
)
SCRIPT_DONE = OpenApiExample(
    "It worked",
    response_only=True,
    status_codes=["200"],
    value={
        "success": True,
        "result": {"message": "Hello, John!", "processed_value": 84},
        "execution_time": 0.123,
    },
)
SCRIPT_FAILED = OpenApiExample(
    "It failed (or ran out of time)",
    response_only=True,
    status_codes=["200"],
    value={"success": False, "error": "KeyError: 'name'", "execution_time": 0.05},
)
SCRIPT_MISSING = OpenApiExample(
    "No such script",
    response_only=True,
    status_codes=["404"],
    value={"detail": "No script at test/nope.py in the scripts directory."},
)
AUTH_ERRORS = [NOT_AUTHENTICATED, FORBIDDEN, NOT_FOUND]
