"""The console's browser-test harness: one real app served by uvicorn on a free loopback port (on the
session's real PostgreSQL and Redis), one headless Debian Chromium driven by Playwright, and a page
fixture that fails the test on any request to another host or any script error in the page."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn

from core.runtime import Runtime
from tests.conftest import PASSWORD
from tests.engine.conftest import (  # noqa: F401 - the sandbox floor fixtures, for the wallboard tests
    certificates,
    national_registry,
    sandbox,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1366, "height": 768}  # the console must be readable on a plain office laptop
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"


@dataclass
class ConsoleServer:
    base_url: str
    server: uvicorn.Server
    thread: threading.Thread

    def url(self, path: str) -> str:
        return self.base_url + path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def console_server(runtime: Runtime) -> Iterator[ConsoleServer]:
    """The real application, served over real HTTP in a thread of this process."""
    from api.app import create_app
    from api.console.serve import serve_in_thread

    port = _free_port()
    server, thread = serve_in_thread(create_app(runtime), "127.0.0.1", port)
    yield ConsoleServer(base_url=f"http://127.0.0.1:{port}", server=server, thread=thread)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import expect, sync_playwright

    # What the page shows after a server round trip can take seconds on a loaded 2-core machine (the
    # engine's own bounds are asserted on the server's timestamps, not on these UI waits).
    expect.set_options(timeout=15_000)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class PageWatch:
    """What the page tried that a console must never do."""

    foreign_requests: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)


@pytest.fixture
def page(browser: Any, console_server: ConsoleServer) -> Iterator[Any]:
    """A fresh browser context (no cookies) at 1366x768. Any request to a host other than the console
    server is aborted and fails the test, as does any uncaught script error."""
    context = browser.new_context(viewport=VIEWPORT, base_url=console_server.base_url, accept_downloads=True)
    context.set_default_timeout(15_000)
    watch = PageWatch()
    local = urlsplit(console_server.base_url).netloc

    def guard(route: Any) -> None:
        url = route.request.url
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob") or parts.netloc == local:
            route.continue_()
        else:
            watch.foreign_requests.append(url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.on("pageerror", lambda exc: watch.script_errors.append(str(exc)))
    page.watch = watch
    yield page
    context.close()
    assert not watch.foreign_requests, f"the page requested other hosts: {watch.foreign_requests}"
    assert not watch.script_errors, f"script errors in the page: {watch.script_errors}"


def log_in(page: Any, email: str, password: str = PASSWORD, next_path: str = "") -> None:
    """Log in through the login form, as a person would (keyboard only)."""
    page.goto("/console/login" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(re.compile(r".*/console(?!/login).*"))


def screenshot(page: Any, name: str, *, top: bool = True) -> None:
    """Save a screenshot of a main page for docs/console.md (PNG, the visible viewport only; from the top
    of the page unless `top` is False)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if top:
        page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


UNLABELLED_CONTROLS = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                  && !el.getAttribute('aria-labelledby') && !(el.tagName === 'BUTTON' && el.textContent.trim()))
    .map(el => el.outerHTML.slice(0, 120))"""


def assert_every_control_is_labelled(page: Any) -> None:
    """Every form control of the page has a label a screen reader (and a test) can find it by."""
    unlabelled = page.evaluate(UNLABELLED_CONTROLS)
    assert not unlabelled, f"controls without a label on {page.url}: {unlabelled}"


def console_session(runtime: Runtime, user: Any) -> tuple[str, str]:
    """A logged-in console session for `user` without the password round trip: (cookie, CSRF token)."""
    from api.console.pages.login import start_console_session
    from core.accounts import account_state

    account = account_state(runtime.db, user.id)
    assert account is not None
    token, session = start_console_session(runtime, account, None)
    return token, session.csrf_token
