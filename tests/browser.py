"""A real headless Chromium for the tests (and scripts/gen_screenshots.py): Debian's
chromium and chromium-driver packages, installed with apt-get when missing and apt is
usable, driven by selenium. Never a downloaded browser build; the network stays closed
to the browser (no background or component updates, no QUIC, a fresh profile)."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def install_chromium() -> str | None:
    """Install Debian's chromium and chromium-driver if missing; None when ready, else
    why no browser can be had here."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return None
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        return "no /usr/bin/chromium, and apt-get is not usable here (not Debian, or not root)"
    # pytest-xdist workers each ask at once: one installs, the others wait for it.
    with open(Path(tempfile.gettempdir()) / "archspec-chromium-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if CHROMIUM.exists() and CHROMEDRIVER.exists():
            return None
        return _apt_install(apt)


def _apt_install(apt: str) -> str | None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    wait = ["-o", "DPkg::Lock::Timeout=300"]  # another apt-get may hold the lock a while
    for args in (["update", "-q"], ["install", "-y", "-q", "chromium", "chromium-driver"]):
        proc = subprocess.run(
            [apt, *wait, *args], capture_output=True, text=True, env=env, timeout=900, check=False
        )
        if proc.returncode != 0:
            return f"apt-get {args[0]} failed: {proc.stderr.strip()[-300:]}"
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        return "apt-get installed chromium, but /usr/bin/chromium or chromedriver is missing"
    return None


@contextlib.contextmanager
def chromium(width: int = 1280, height: int = 800) -> Iterator[object]:
    """A selenium WebDriver of the system's headless Chromium, with a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="archspec-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for flag in FLAGS:
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={profile}")
        options.add_argument(f"--window-size={width},{height}")
        driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            yield driver
        finally:
            driver.quit()


MERMAID = "mermaid@11.17.2"  # the version the tests check .mmd files against
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "archspec-tests"


def mermaid_js() -> Path | str:
    """Mermaid's browser bundle (dist/mermaid.min.js) from the npm registry, through npm
    itself, cached between runs; or why it cannot be had here."""
    target = CACHE / MERMAID.replace("@", "-") / "mermaid.min.js"
    if target.exists():
        return target
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not installed, so Mermaid's own parser cannot be had"
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run(
            [npm, "pack", MERMAID, "--silent"],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        tarballs = list(Path(tmp).glob("mermaid-*.tgz"))
        if proc.returncode != 0 or not tarballs:
            return f"npm pack {MERMAID} failed: {proc.stderr.strip()[-300:]}"
        import tarfile

        with tarfile.open(tarballs[0]) as tar:
            member = tar.extractfile("package/dist/mermaid.min.js")
            if member is None:
                return f"{MERMAID} has no dist/mermaid.min.js"
            target.parent.mkdir(parents=True, exist_ok=True)
            # A name of its own, then a rename: parallel workers never see half a file.
            fd, partial = tempfile.mkstemp(dir=target.parent, suffix=".part")
            with os.fdopen(fd, "wb") as file:
                file.write(member.read())
            os.replace(partial, target)
    return target
