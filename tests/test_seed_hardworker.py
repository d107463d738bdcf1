"""Seed 004 (HardWorker): a task writes ``output.txt`` into its working directory and
returns ``{"result": X, "file_path": P}``; the file is an artifact, the run's e-mail says
``str(X)`` and attaches it; every trigger can name who is mailed about that run."""

from __future__ import annotations

import json

import pytest

from scripts_app.models import Execution, NotifyOn, Status, Trigger
from scripts_app.runs import dispatch
from scripts_app.worker import execution

# Seed 004's MyTask (task_3), as a Parseq script: the same body, main() for run().
FACTORIAL = """
import os

def main(params):
    def generate_fac(n):
        if n == 0:
            return 1
        else:
            return n * generate_fac(n - 1)
    f = open("output.txt", "w")
    f.write("Факториал {} = {}".format(params[u'n'], generate_fac(params[u'n'])))
    f.close()
    return {"result": u"Факториал посчитан", "file_path": os.path.abspath("output.txt")}
"""


def run_now(job, params=None, email=None):
    run = dispatch.trigger(job, params=params, trigger=Trigger.CLI, send=False, email=email)
    return execution.execute(run.pk)


def body_of(message) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")  # SMTP's CRLF


def attachments_of(message) -> dict[str, str]:
    return {part.get_filename(): part.get_content() for part in message.iter_attachments()}


def test_the_factorial_task_mails_its_text_with_output_txt_attached(make_job, smtp_server):
    job = make_job(FACTORIAL, slug="factorial-task")
    run = run_now(job, {"n": 5}, email="boss@example.com")
    assert run.status == Status.SUCCEEDED, run.error
    assert run.result["result"] == "Факториал посчитан"  # stored as the script returned it
    assert run.result["file_path"].endswith("/output.txt")
    [artifact] = run.artifacts.all()
    assert artifact.name == "output.txt"
    assert artifact.file.open("rb").read().decode() == "Факториал 5 = 120"
    [message] = smtp_server.messages
    assert smtp_server.envelopes[0][1] == ["boss@example.com"]
    assert body_of(message).startswith("Факториал посчитан\n")
    assert attachments_of(message) == {"output.txt": "Факториал 5 = 120"}
    assert Execution.objects.get(pk=run.pk).mail_attachment == "output.txt"


WORKDIR = """
import os
from scripts_app import runtime

def main(data):
    open("notes.txt", "w").write("in the working directory")
    os.makedirs("charts/daily")
    open("charts/daily/rows.csv", "w").write("a,b\\n")
    runtime.write_output("via the runtime")     # outputs/output.txt
    open("output.txt", "w").write("by hand")    # the working directory's own output.txt
    os.symlink("/etc/hostname", "leak")         # a link out: never collected
    return {"listed": sorted(os.listdir("."))}
"""


def test_files_left_in_the_working_directory_become_artifacts_but_parseqs_own_do_not(
    make_job,
):
    run = run_now(make_job(WORKDIR, slug="workdir"))
    assert run.status == Status.SUCCEEDED, run.error
    stored = {a.name: a.file.open("rb").read().decode() for a in run.artifacts.all()}
    assert stored == {
        "notes.txt": "in the working directory",
        "charts/daily/rows.csv": "a,b\n",
        "output.txt": "via the runtime\n",
        "output-2.txt": "by hand",
    }


def test_a_workspace_a_run_wrote_into_is_not_handed_to_the_next_run(make_job):
    run_now(make_job(WORKDIR, slug="workdir"))
    lister = make_job("import os\ndef main(data):\n    return sorted(os.listdir('.'))\n", slug="ls")
    seen = run_now(lister).result
    assert seen == [".parseq", "home", "inputs", "outputs", "results", "script.py", "tmp"]


def test_the_output_limit_counts_the_working_directory_while_the_script_runs(make_job):
    job = make_job(
        "import time\nopen('big.bin', 'wb').write(b'0' * 5000)\ntime.sleep(30)\n",
        slug="filler",
        output_limit_bytes=1000,
    )
    run = run_now(job)
    assert run.status == Status.FAILED
    assert run.error == "output size limit exceeded (1,000 bytes)"
    assert not run.artifacts.exists()


@pytest.mark.parametrize(
    ("returned", "attached"),
    [
        ("'/etc/hostname'", None),  # outside the workspace
        ("os.path.abspath('link.txt')", None),  # a symlink leading out
        ("os.path.abspath('../.parseq/params.json')", None),  # Parseq's own file
        ("'missing.txt'", None),
        ("os.path.join(os.environ['TMPDIR'], 'made.txt')", "made.txt"),  # copied out of tmp/
        ("'sub/inner.txt'", "sub/inner.txt"),  # relative to the working directory
    ],
)
def test_only_a_regular_file_of_the_workspace_is_attached(
    make_job, smtp_server, returned, attached
):
    source = f"""
import os
def main(data):
    open(os.path.join(os.environ["TMPDIR"], "made.txt"), "w").write("made")
    os.makedirs("sub")
    open("sub/inner.txt", "w").write("made")
    os.symlink("/etc/hostname", "link.txt")
    return {{"result": "done", "file_path": {returned}}}
"""
    run = run_now(make_job(source, slug="picky"), email="a@example.com")
    assert run.status == Status.SUCCEEDED, run.error
    [message] = smtp_server.messages
    assert body_of(message).startswith("done\n")
    files = attachments_of(message)
    if attached is None:
        assert Execution.objects.get(pk=run.pk).mail_attachment == ""
        assert "hostname" not in json.dumps(files)
    else:
        assert Execution.objects.get(pk=run.pk).mail_attachment == attached
        assert files[attached.replace("/", "_")] == "made"


def test_run_recipients_are_mailed_whatever_the_jobs_notify_on(make_job, smtp_server):
    job = make_job("def main(data):\n    return {'ok': 1}\n", notify_on=NotifyOn.NEVER)
    run_now(job, email=["a@example.com", "b@example.com"])
    assert sorted(smtp_server.envelopes[0][1]) == ["a@example.com", "b@example.com"]
    run_now(job)  # no recipients named: the job's notify_on (never) decides
    assert len(smtp_server.messages) == 1


def test_the_job_and_the_run_recipients_get_one_mail(make_job, smtp_server):
    job = make_job(
        "raise SystemExit('broken')\n",
        notify_on=NotifyOn.FAILURE,
        notify_emails="team@example.com",
    )
    run_now(job, email="me@example.com")
    assert len(smtp_server.messages) == 1
    assert sorted(smtp_server.envelopes[0][1]) == ["me@example.com", "team@example.com"]


def test_the_subject_follows_parseq_mail_subject(make_job, smtp_server, settings):
    settings.PARSEQ_MAIL_SUBJECT = "Your task finished: {slug} #{run} {status} (attempt {attempt})"
    run = run_now(make_job(slug="subj"), email="a@example.com")
    assert (
        smtp_server.messages[0]["Subject"]
        == f"Your task finished: subj #{run.pk} succeeded (attempt 1)"
    )


def test_the_admin_run_form_can_name_who_is_mailed(make_job, alice, client):
    job = make_job(slug="formed")
    client.force_login(alice)
    url = f"/admin/scripts_app/job/{job.pk}/run/"
    response = client.post(url, {"_raw_json": "{}", "_email": "a@example.com, b@example.com"})
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert Execution.objects.get().notify_emails == "a@example.com, b@example.com"
    bad = client.post(url, {"_raw_json": "{}", "_email": "nobody"})
    assert bad.status_code == 200 and "is not an e-mail address" in bad.content.decode()
    assert Execution.objects.count() == 1
