"""Headless Chromium for end-to-end tests: Debian's chromium driven by Python playwright.

Never downloads a browser (no ``playwright install``): it launches the system binary.
On a failed test the page is saved as a screenshot under test-artifacts/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.services import need

ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"parseq_report_{report.when}", report)
    return report


def _failed(item) -> bool:
    return any(
        getattr(getattr(item, f"parseq_report_{when}", None), "failed", False)
        for when in ("setup", "call")
    )


@pytest.fixture
def browser_page(request, monkeypatch):
    """A fresh Chromium page (downloads accepted); a screenshot is kept if the test fails.

    Playwright's sync API runs an event loop in this thread, so Django's async-safety
    check would refuse the test's own ORM calls: the test thread is allowed them.
    """
    executable = need("chromium", "the end-to-end admin test drives a real browser")
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        try:
            yield page
        finally:
            if _failed(request.node):
                ARTIFACTS_DIR.mkdir(exist_ok=True)
                name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)
                path = ARTIFACTS_DIR / f"{name}.png"
                try:
                    page.screenshot(path=str(path), full_page=True)
                    print(f"screenshot of the failed page: {path}")
                except Exception as exc:  # a dead page must not hide the real failure
                    print(f"no screenshot: {exc}")
            context.close()
            browser.close()
