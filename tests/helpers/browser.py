"""Opening report pages in a real headless Chromium (Debian's ``chromium``, driven by Playwright
for Python through ``executable_path``; ``playwright install`` is never used), recording what a
person would notice: console errors, requests other than ``file:``/``data:`` (blocked and
recorded), images that did not decode, the page's text, and a screenshot.

``make screenshots`` runs the same tests with ``OCSEG_SCREENSHOTS=docs/img``: each visit then
also saves the top of its page, palette-quantised, as ``docs/img/report-<name>.png``.
"""

from __future__ import annotations

import io
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FLAGS", "Browser", "Visit", "chromium_path"]

# root in a container: no sandbox; nothing in the background that could reach the network
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 900}
DOC_SHOT_HEIGHT = 1000     # pixels of a page's top that the docs show


def chromium_path() -> str | None:
    """The system Chromium (``/usr/bin/chromium``, else ``chromium`` on PATH), or None."""
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    return shutil.which("chromium")


@dataclass
class Visit:
    """What one page load showed."""

    console_errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)          # requests other than file:/data:
    images: list[dict] = field(default_factory=list)          # {"src", "naturalWidth"}
    text: str = ""
    screenshot: bytes = b""

    def undecoded(self) -> list[str]:
        return [i["src"][:60] for i in self.images if not i["naturalWidth"]]


class Browser:
    """One Chromium for many visits (a session fixture): ``with Browser() as b: b.visit(path)``."""

    def __init__(self, executable: str) -> None:
        self.executable = executable

    def __enter__(self) -> "Browser":
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(executable_path=self.executable, args=FLAGS)
        return self

    def __exit__(self, *exc) -> None:
        self._browser.close()
        self._playwright.stop()

    def visit(self, page_file: Path, shot_name: str | None = None) -> Visit:
        """Open ``page_file``; with ``shot_name`` and ``OCSEG_SCREENSHOTS`` set, also save its top
        as ``$OCSEG_SCREENSHOTS/report-<shot_name>.png``."""
        visit = Visit()
        context = self._browser.new_context(viewport=VIEWPORT, offline=True)
        page = context.new_page()
        page.on("console", lambda m: visit.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: visit.console_errors.append(str(e)))

        def route(r) -> None:
            if r.request.url.startswith(("file:", "data:")):
                r.continue_()
            else:
                visit.blocked.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page.goto(Path(page_file).resolve().as_uri(), wait_until="load")
        visit.images = page.evaluate(
            "Array.from(document.images).map(i => ({src: i.src, naturalWidth: i.naturalWidth}))")
        visit.text = page.inner_text("body")
        visit.screenshot = page.screenshot(full_page=True)
        folder = os.environ.get("OCSEG_SCREENSHOTS")
        if folder and shot_name:
            _save_doc_shot(page.screenshot(clip={"x": 0, "y": 0, "width": VIEWPORT["width"],
                                                 "height": DOC_SHOT_HEIGHT}, full_page=True),
                           Path(folder) / f"report-{shot_name}.png")
        context.close()
        return visit


def _save_doc_shot(png: bytes, path: Path) -> None:
    """A docs screenshot: 256 colours (a few hundred KB → well under 200 KB)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        path, optimize=True)
