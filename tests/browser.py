"""Drive Debian's headless Chromium from tests (Playwright's Python client, system binary).

Never `playwright install`: it downloads a browser. The binary comes from `apt-get install
chromium` (scripts/sysdeps.sh). Outside CI a missing browser skips the test with the reason;
with CI=true it fails, so the browser tests can never be skipped silently where they must run.

    from tests.browser import open_page
    with open_page(path_to_html) as page:   # a Playwright Page, plus .console_errors etc.
        page.click("th[data-key=iqm]")
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    # belt and braces: the pages under test are local files; no name may resolve
    "--host-resolver-rules=MAP * ~NOTFOUND",
]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def chromium_path() -> str | None:
    env = os.environ.get("CHROMIUM_PATH")
    for candidate in ([env] if env else []) + list(CHROMIUM_CANDIDATES):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("chromium")


def require_browser() -> str:
    """The chromium binary; skip (locally) or fail (CI=true) with what to install."""
    path = chromium_path()
    problem = None
    if path is None:
        problem = (
            "Debian's chromium is not installed: run `bash scripts/sysdeps.sh` "
            "(or `apt-get install chromium`)"
        )
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright Python package is missing: `pip install playwright`"
    if problem:
        if in_ci():
            pytest.fail(f"browser tests must run in CI: {problem}")
        pytest.skip(problem)
    return path  # type: ignore[return-value]


@dataclass
class PageLog:
    """What the page reported while the test ran."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


@contextmanager
def open_page(
    target: str | Path, width: int = 1280, height: int = 900
) -> Iterator[tuple[Any, PageLog]]:
    """(page, log) for a local HTML file in a fresh headless Chromium profile.

    Every request that is not file:// or data: is aborted and recorded in `log.blocked`, so a
    page that needs the network (an external script, font or image) shows up in the test.
    """
    from playwright.sync_api import sync_playwright

    binary = require_browser()
    url = Path(target).resolve().as_uri() if not str(target).startswith("file:") else str(target)
    log = PageLog()
    profile = tempfile.mkdtemp(prefix="chromium-profile-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile,
                executable_path=binary,
                headless=True,
                args=LAUNCH_ARGS,
                viewport={"width": width, "height": height},
            )
            try:

                def route(r: Any) -> None:
                    log.requests.append(r.request.url)
                    if r.request.url.startswith(("file:", "data:")):
                        r.continue_()
                    else:
                        log.blocked.append(r.request.url)
                        r.abort()

                context.route("**/*", route)
                page = context.pages[0] if context.pages else context.new_page()
                page.on(
                    "console",
                    lambda m: log.console_errors.append(m.text) if m.type == "error" else None,
                )
                page.on("pageerror", lambda e: log.page_errors.append(str(e)))
                page.goto(url, wait_until="load")
                yield page, log
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(page: Any, path: str | Path, full_page: bool = True) -> Path:
    """Save a PNG and check it is a real, non-blank image."""
    path = Path(path)
    page.screenshot(path=str(path), full_page=full_page)
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path} is not a PNG"
    assert len(data) > 10_000, f"{path} is suspiciously small ({len(data)} bytes): a blank page?"
    from PIL import Image

    with Image.open(path) as im:
        colors = im.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colors is None or len(colors) > 16, f"{path} has almost no distinct colours: blank?"
    return path


def images_loaded(page: Any, selector: str = "img") -> list[dict[str, Any]]:
    """naturalWidth/complete of each image matching `selector` (0 width = failed to decode)."""
    return page.eval_on_selector_all(
        selector,
        "els => els.map(e => ({alt: e.alt, complete: e.complete, width: e.naturalWidth}))",
    )
