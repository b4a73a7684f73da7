"""Browser tests: Playwright driving Debian's Chromium against pytest-django's live server.

Chromium comes from apt (scripts/ensure_browser.sh), never from `playwright install`. Each test
saves screenshots to test-artifacts/ (gitignored); the final ones are also copied, shrunk to a
256-colour palette, to docs/screenshots/ for the README.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
DOCS = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """One Chromium per test module. Playwright's sync API keeps an event loop running in this
    thread while it is open, so Django's async-safety check must be told that the ORM calls the
    test makes between browser steps are plain synchronous calls; the loop (and the permission)
    end with the module, before any other test runs."""
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("Chromium is missing: run scripts/ensure_browser.sh (apt-get install chromium)")
    with pytest.MonkeyPatch.context() as patch, sync_api.sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(autouse=True)
def _e2e_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "private"
    settings.DEBUG = False


@pytest.fixture
def site(django_db_setup, live_server):
    """The live server, started after the test database exists so that it stops (and closes
    its connections) before the database is dropped. Its request threads keep no connection."""
    from django.db import connections

    connections.settings["default"]["CONN_MAX_AGE"] = 0
    return live_server


def new_page(browser, live_server, viewport=DESKTOP):
    context = browser.new_context(viewport=viewport, base_url=live_server.url, locale="en-US")
    context.set_default_timeout(15_000)
    # Chromium asks for /favicon.ico on every page; we have none, and a 404 is not a bug here.
    context.route("**/favicon.ico", lambda route: route.fulfill(status=204))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: _console(msg, errors))
    page.on(
        "response",
        lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 500 else None,
    )
    page.js_errors = errors  # checked by shoot(): script errors or a 5xx fail the test
    return page


def _console(message, errors: list[str]) -> None:
    # A 4xx page is a valid answer (a form with errors is 422); 5xx are caught by "response".
    if message.type == "error" and not message.text.startswith("Failed to load resource"):
        errors.append(message.text)


def shoot(page, name: str, *, docs: bool = True, full_page: bool = True) -> Path:
    """Save a screenshot to test-artifacts/ and, for the README, a small copy to docs/."""
    assert not page.js_errors, page.js_errors
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    if docs and os.environ.get("SPARK_UPDATE_SCREENSHOTS"):
        # Only on request (`make screenshots`): a normal test run leaves the tree clean.
        DOCS.mkdir(parents=True, exist_ok=True)
        _shrink(path, DOCS / f"{name}.png")
    return path


def _shrink(source: Path, target: Path) -> None:
    from PIL import Image

    with Image.open(source) as image:
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(
            target, optimize=True
        )


def log_in(page, path: str, username: str, password: str) -> None:
    page.goto(path)
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
