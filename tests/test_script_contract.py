"""The script contract: main(data) → JSON result, or a plain __main__ script."""

from tests.runner_helpers import run_source


def test_main_receives_the_params_and_its_return_value_is_the_result(tmp_path):
    outcome, _, _ = run_source(tmp_path, "def main(data):\n    return {'got': data}\n")
    assert outcome.exit_code == 0
    assert outcome.extra["result"] == {"got": {}}


def test_a_main_returning_none_gives_an_empty_object(tmp_path):
    # Seed 003: main() returns a dict, "or None, which becomes an empty {}".
    outcome, _, _ = run_source(tmp_path, "def main(data):\n    print('hi')\n")
    assert outcome.exit_code == 0
    assert outcome.extra["result"] == {}


def test_a_main_returning_none_gives_an_empty_object_when_forked_too(tmp_path):
    outcome, _, _ = run_source(tmp_path, "def main(data):\n    return None\n", fork_server=True)
    assert outcome.exit_code == 0
    assert outcome.extra["result"] == {}


def test_a_plain_script_runs_as_main(tmp_path):
    source = "if __name__ == '__main__':\n    print('ran as main')\n"
    outcome, _, log = run_source(tmp_path, source)
    assert outcome.exit_code == 0
    assert b"ran as main" in log


def test_a_script_with_main_is_not_run_as_main_twice(tmp_path):
    source = (
        "calls = []\n"
        "def main(data):\n    print('main called')\n    return 1\n"
        "if __name__ == '__main__':\n    main({})\n"
    )
    outcome, _, log = run_source(tmp_path, source)
    assert log.count(b"main called") == 1
    assert outcome.extra["result"] == 1


def test_an_exception_fails_with_its_last_line_as_the_error(tmp_path):
    source = "def main(data):\n    raise ValueError('bad input: 42')\n"
    outcome, _, log = run_source(tmp_path, source)
    assert outcome.exit_code == 1
    assert outcome.extra["error"] == {"error": "ValueError: bad input: 42"}
    assert b"Traceback" in log


def test_a_result_that_is_not_json_fails_clearly(tmp_path):
    outcome, _, _ = run_source(tmp_path, "def main(data):\n    return {1, 2}\n")
    assert outcome.exit_code == 1
    assert "not JSON-serialisable" in outcome.extra["error"]["error"]


def test_sys_exit_with_a_code_is_a_failure(tmp_path):
    outcome, _, _ = run_source(tmp_path, "import sys\nsys.exit(3)\n")
    assert outcome.exit_code == 3
    assert outcome.extra["error"] == {"error": "SystemExit: 3"}


def test_the_runtime_module_writes_output_txt_and_artifacts(tmp_path):
    source = """
        from scripts_app import runtime
        def main(data):
            runtime.write_output("line one")
            runtime.write_output("line two\\n")
            runtime.output_path("sub/report.csv").write_text("a,b\\n")
            return {"run": runtime.run_id(), "job": runtime.job_slug()}
    """
    outcome, ws, _ = run_source(
        tmp_path, source, run_vars={"PARSEQ_RUN_ID": "7", "PARSEQ_JOB": "j"}
    )
    assert outcome.extra["result"] == {"run": 7, "job": "j"}


def test_the_runtime_module_imports_without_django(tmp_path):
    source = "import sys\nfrom scripts_app import runtime\nprint('django' in sys.modules)\n"
    _, _, log = run_source(tmp_path, source)
    assert log.strip() == b"False"
