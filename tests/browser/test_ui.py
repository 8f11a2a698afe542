"""The plugin's UI in a real browser: the Plex panel on a scene page and the Stash2Plex page.

The page is the Stash emulator's host page with the plugin's JavaScript and CSS served
from the yml's `ui` block as Stash serves them; every button goes through GraphQL to
the emulator, which runs the real plugin process (runPluginOperation).
"""

from __future__ import annotations

import os

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from tests.browser.conftest import DOCS
from tests.e2e.conftest import PLEX_PREFIX, STASH_PREFIX

WAIT = 45


def panel_state(driver) -> str:
    panels = driver.find_elements(By.CSS_SELECTOR, ".stash2plex-panel")
    return panels[0].get_attribute("data-state") if panels else ""


def screenshot(driver, element, name: str) -> None:
    os.makedirs(DOCS, exist_ok=True)
    element.screenshot(os.path.join(DOCS, name))


def test_sync_now_moves_the_scene_to_synced(ui_env, browser):
    env = ui_env
    (scene,) = env.seed(1)
    env.stash.update_scene(scene, hooks=False, title="Synced from the panel")
    browser.get(f"{env.stash.url}/scenes/{scene}")
    wait = WebDriverWait(browser, WAIT)
    wait.until(lambda d: panel_state(d) == "not_synced")

    browser.find_element(By.CSS_SELECTOR, ".stash2plex-sync").click()

    wait.until(lambda d: panel_state(d) == "synced")
    panel = browser.find_element(By.CSS_SELECTOR, ".stash2plex-panel")
    assert "Synced from the panel" in panel.text and "Scenes" in panel.text
    assert env.plex_title(scene) == "Synced from the panel"
    assert env.token not in browser.page_source


def test_preview_after_a_stash_edit_shows_the_change(ui_env, browser):
    env = ui_env
    scene, other, before = env.synced_pair_then_edit("Edited in Stash")
    browser.get(f"{env.stash.url}/scenes/{scene}")
    wait = WebDriverWait(browser, WAIT)
    wait.until(lambda d: panel_state(d) == "synced")

    browser.find_element(By.CSS_SELECTOR, ".stash2plex-preview").click()

    row = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".stash2plex-preview-table tr[data-field=title]")))
    assert before in row.text and "Edited in Stash" in row.text
    assert env.plex.count(method="PUT") == 0 and env.plex_title(scene) == before
    screenshot(browser, browser.find_element(By.CSS_SELECTOR, ".stash2plex-panel"), "ui-scene-panel.png")

    browser.get(f"{env.stash.url}/plugin/stash2plex")  # the same change, library-wide
    wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, ".stash2plex-preview-all"))).click()
    bar = wait.until(EC.visibility_of_element_located((By.CSS_SELECTOR, ".stash2plex-histogram tr[data-field=title]")))
    assert bar.text.split() == ["title", "1"]
    assert "Edited in Stash" in browser.find_element(By.CSS_SELECTOR, ".stash2plex-report").text
    assert env.plex.count(method="PUT") == 0 and env.plex.count(method="POST") == 0


def test_retry_a_dead_letter_from_the_page(ui_env, browser):
    env = ui_env
    late = env.stash.add_scene(title="Claimed twice", files=[f"{STASH_PREFIX}/c/twice.mp4"])
    one = env.plex.add_movie(env.section, f"{PLEX_PREFIX}/c/twice.mp4", title="First Claim")
    two = env.plex.add_movie(env.section, f"{PLEX_PREFIX}/c/twice.mp4", title="Second Claim", claim_again=True)
    env.queue_directly([late])  # one file, two Plex items: strict matching dead-letters it
    assert env.ok_task("Process Queue")["dead_lettered"] == 1
    env.plex.delete_item(two, keep_files=False)  # the user removes the duplicate in Plex
    browser.get(f"{env.stash.url}/plugin/stash2plex")
    wait = WebDriverWait(browser, WAIT)
    row = f"tr[data-scene-id='{late}']"
    retry = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, row + " .stash2plex-retry")))
    page = browser.find_element(By.CSS_SELECTOR, ".stash2plex-page")
    assert "permanent" in page.text and "Dead letters" in page.text
    screenshot(browser, page, "ui-page.png")

    retry.click()

    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, row))
    wait.until(lambda d: env.plex.item(one)["title"] == "Claimed twice")
    assert env.rows("SELECT count(*) FROM dead_letters WHERE resolved_at IS NULL") == [(0,)]
    nav = browser.find_element(By.CSS_SELECTOR, ".stash2plex-nav")
    assert nav.get_attribute("href").endswith("/plugin/stash2plex")
