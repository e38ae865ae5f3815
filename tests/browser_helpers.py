"""A real browser for the tests: Debian's Chromium, driven by Playwright for Python.

Playwright's own browser download is not possible here, so the tests launch the system's Chromium
with `executable_path`. Where Playwright or Chromium is missing, the browser tests are skipped and
say why; in CI (CI=true, where .ci/run installs both: `apt-get install chromium`, `pip install
'.[browser]'`) they fail instead, so a broken install can't pass for a green run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import pytest

CHROMIUM = Path(shutil.which("chromium") or "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _missing(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}, which .ci/run installs: see its output")
    pytest.skip(reason)


def chromium() -> Iterator[Any]:
    """A launched Chromium (a Playwright Browser) for a fixture to yield, or a skip saying why."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the browser tests need Playwright for Python: pip install '.[browser]'")
    if not CHROMIUM.is_file():
        _missing("the browser tests need Debian's chromium: apt-get install chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()
