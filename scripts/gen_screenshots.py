"""Regenerate the screenshot of the HTML viewer that docs/notebooks.md shows
(docs/img/viewer_resnet50.png): resnet50's page in Debian's headless Chromium (installed
with apt-get when missing, as the tests do), its layer2 expanded by a search for a module
path, that module's tooltip showing.

Run after a change to the viewer: ``python scripts/gen_screenshots.py``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the tests' browser helper, one way to start it

from browser import chromium, install_chromium  # noqa: E402

import archspec  # noqa: E402

SHOT = ROOT / "docs" / "img" / "viewer_resnet50.png"


def main() -> None:
    reason = install_chromium()
    if reason is not None:
        raise SystemExit(f"no browser: {reason}")
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    with tempfile.TemporaryDirectory() as tmp, chromium(1200, 760) as browser:
        page = archspec.render("resnet50", Path(tmp) / "resnet50.html")
        browser.get(page.as_uri())
        search = browser.find_element(By.ID, "search")
        search.send_keys("layer2.0.conv2", Keys.ENTER)
        hit = browser.find_element(By.CSS_SELECTOR, "#layer g.hit")
        box = browser.execute_script("return arguments[0].getBoundingClientRect().toJSON()", hit)
        actions = ActionBuilder(browser)
        actions.pointer_action.move_to_location(
            int(box["x"] + box["width"] / 2), int(box["y"] + box["height"] / 2)
        )
        actions.perform()
        SHOT.parent.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SHOT))
    print(f"wrote {SHOT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
