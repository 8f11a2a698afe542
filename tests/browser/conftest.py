"""A real browser against the Stash emulator's UI host: headless Debian Chromium via Selenium.

Chromium and its driver come from Debian's packages (scripts/setup installs them); the
driver is given by path, so selenium-manager never downloads anything. When either,
Selenium, or the pinned React builds are missing, every browser test skips with a loud
message naming what to install.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings

import pytest

from testbed.stash import ui_host
from tests.e2e.conftest import PluginEnv, torn_down

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--window-size=1100,900")
DOCS = os.path.join(ui_host.ROOT, "docs")


def _missing() -> str:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -r requirements-browser.txt; scripts/setup does it)"
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} is missing (apt-get install {package}; scripts/setup does it)"
    if not ui_host.react_available():
        return "React 18.3.1 is not in .cache/ui-host (scripts/setup fetches it with npm pack)"
    return ""


@pytest.fixture
def browser():
    problem = _missing()
    if problem:
        message = f"BROWSER TESTS SKIPPED: {problem}"
        warnings.warn(message)
        print("\n!!! " + message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="stash2plex-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def ui_env(tmp_path):
    """The emulated install, as in the end-to-end tests."""
    with torn_down(PluginEnv(str(tmp_path))) as env:
        yield env
