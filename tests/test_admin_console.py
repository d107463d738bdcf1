"""The admin is Parseq's console: it says so in its header and title, links the dashboard
from its index, shows no empty django_dramatiq "Tasks" section, and makes trigger tokens
(shown once)."""

from __future__ import annotations

import hashlib
import re

import pytest
from playwright.sync_api import expect
from rest_framework.test import APIClient

from scripts_app.models import Execution, Job


@pytest.fixture
def console(client, alice):
    client.force_login(alice)
    return client


def test_the_header_and_title_say_parseq(console):
    page = console.get("/admin/").content.decode()
    assert re.search(r"<title>[^<]*\| Parseq</title>", page)
    assert '<a href="/admin/">Parseq</a>' in page


def test_the_index_links_the_dashboard(console):
    page = console.get("/admin/").content.decode()
    assert 'href="/admin/scripts_app/execution/dashboard/" id="parseq-dashboard-link"' in page
    assert console.get("/admin/scripts_app/execution/dashboard/").status_code == 200


def test_the_index_has_no_dramatiq_tasks_section(console):
    page = console.get("/admin/").content.decode()
    assert "django_dramatiq" not in page and ">Tasks<" not in page
    assert console.get("/admin/django_dramatiq/task/").status_code == 404


def test_a_new_trigger_token_is_shown_once_on_the_page_that_makes_it(console, make_job):
    job = make_job(slug="hello")
    page = console.post(f"/admin/scripts_app/job/{job.pk}/trigger_token/").content.decode()
    token = re.search(r'id="trigger-token-hello">([^<]+)</code>', page)[1]
    job.refresh_from_db()
    assert job.trigger_token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert f"http://testserver/scripts/hello/?token={token}" in page
    assert token not in console.get(f"/admin/scripts_app/job/{job.pk}/change/").content.decode()
    assert APIClient().get(f"/scripts/hello/?token={token}").status_code == 202
    assert Execution.objects.filter(job=job).count() == 1


def test_the_job_page_offers_the_button_and_says_whether_a_token_is_set(console, make_job):
    job = make_job(slug="hello")
    page = console.get(f"/admin/scripts_app/job/{job.pk}/change/").content.decode()
    assert 'id="parseq-new-token"' in page and "None." in page
    console.post(f"/admin/scripts_app/job/{job.pk}/trigger_token/")
    page = console.get(f"/admin/scripts_app/job/{job.pk}/change/").content.decode()
    assert "Set (shown only when it was made" in page


def test_the_list_action_makes_a_token_per_selected_job(console, make_job):
    jobs = [make_job(slug="one"), make_job(slug="two")]
    response = console.post(
        "/admin/scripts_app/job/",
        {"action": "new_trigger_token", "_selected_action": [j.pk for j in jobs]},
    )
    page = response.content.decode()
    assert 'id="trigger-token-one"' in page and 'id="trigger-token-two"' in page
    assert not Job.objects.filter(trigger_token_hash="").exists()


def test_making_a_token_needs_the_change_permission(client, bob, make_job):
    job = make_job(slug="hello")
    bob.is_staff = True  # in the admin, may view and run jobs, not change them
    bob.save()
    client.force_login(bob)
    assert client.post(f"/admin/scripts_app/job/{job.pk}/trigger_token/").status_code == 403
    job.refresh_from_db()
    assert job.trigger_token_hash == ""


def test_a_get_never_makes_a_token(console, make_job):
    job = make_job(slug="hello")
    assert console.get(f"/admin/scripts_app/job/{job.pk}/trigger_token/").status_code == 405
    job.refresh_from_db()
    assert job.trigger_token_hash == ""


@pytest.mark.slow
def test_the_admin_fills_in_the_slug_as_the_server_spells_it(browser_page, live_server, alice):
    page = browser_page
    page.goto(f"{live_server.url}/admin/login/?next=/admin/scripts_app/job/add/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "password")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/scripts_app/job/add/")
    page.locator("#id_name").press_sequentially("Бэкап базы данных")
    page.locator("#id_name").blur()  # Playwright types Cyrillic without keyup: "change" then
    # Django's own transliteration would say "bekap-bazy-dannyh".
    expect(page.locator("#id_slug")).to_have_value("bekap-bazy-dannykh")
