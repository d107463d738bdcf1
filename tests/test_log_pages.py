"""One log-page reader behind both tails (API and admin), with one UTF-8 rule: a page
never ends inside a character."""

from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from scripts_app.models import Execution, LogChunk, Status, Trigger
from scripts_app.runs import logs

EURO = "€".encode()  # three bytes


def running_with(make_job, *chunks: bytes) -> Execution:
    run = Execution.objects.create(job=make_job(), trigger=Trigger.API, status=Status.RUNNING)
    offset = 0
    for data in chunks:
        LogChunk.objects.create(execution=run, offset=offset, data=data)
        offset += len(data)
    return run


def test_a_character_cut_by_the_page_limit_is_completed(make_job):
    run = running_with(make_job, b"ab" + EURO + b"cd")
    page = logs.read_page(run, 0, limit=3)
    assert (page.data, page.text, page.next_offset, page.full) == (b"ab" + EURO, "ab€", 5, True)


def test_a_character_cut_by_the_end_of_a_running_log_waits_for_its_other_bytes(make_job):
    run = running_with(make_job, b"ab" + EURO[:2])
    page = logs.read_page(run, 0, limit=100)
    assert (page.data, page.next_offset, page.full, page.complete) == (b"ab", 2, False, False)
    LogChunk.objects.create(execution=run, offset=4, data=EURO[2:] + b"!")
    assert logs.read_page(run, page.next_offset, limit=100).text == "€!"


def test_a_finished_log_is_served_whole_even_if_it_ends_badly(make_job):
    run = Execution.objects.create(job=make_job(), trigger=Trigger.API, status=Status.FAILED)
    run.log = default_storage.save(logs.log_storage_name(run.pk), ContentFile(b"ok" + EURO[:1]))
    page = logs.read_page(run, 0, limit=100)
    assert (page.data, page.next_offset, page.final) == (b"ok" + EURO[:1], 3, True)
    assert logs.read_page(run, 3, limit=100).complete


def test_the_api_and_the_admin_tail_cut_the_same_pages(make_job, alice, api):
    run = running_with(make_job, "é".encode() + EURO[:1])
    from_api = api.get(f"/api/v1/executions/{run.pk}/log/")
    User.objects.filter(pk=alice.pk).update(is_staff=True)
    admin = Client()
    admin.force_login(alice)
    url = reverse("admin:scripts_app_execution_log", args=[run.pk])
    from_admin = admin.get(url + "?offset=0").json()
    assert from_api.content.decode() == from_admin["log"] == "é"
    assert from_api["X-Log-Next-Offset"] == str(from_admin["next_offset"]) == "2"
