"""What the browser tests share: Debian's Chromium, Playwright and axe-core.

Needs /usr/bin/chromium, the Python package playwright and web/node_modules/axe-core
(`.ci/install-web.sh`). Missing any of them: skipped locally, a failure in CI.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "web" / "node_modules" / "axe-core" / "axe.min.js"
# Without the background-networking flags Chromium keeps trying to reach Google.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def missing() -> str | None:
    """What the browser tests lack on this machine, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright (pip install playwright into .venv)"
    if not CHROMIUM.exists():
        return "/usr/bin/chromium (Debian package chromium; run .ci/install-web.sh)"
    if not AXE.exists():
        return f"{AXE.relative_to(ROOT)} (npm ci in web/; run .ci/install-web.sh)"
    return None


def require_browser() -> None:
    """Skip locally, fail in CI, saying exactly what is missing."""
    lacking = missing()
    if lacking:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"browser tests need {lacking}")
        pytest.skip(f"browser tests need {lacking}")


def run_axe(page: Any, artifacts: Path, name: str) -> None:
    """Run axe-core in the page: zero violations for WCAG 2.0-2.2 A and AA; save a screenshot."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map(n => n.target.join(" ") + " :: " + n.failureSummary)}));
        }""", AXE_TAGS)
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)
    assert found == [], f"axe on {name}:\n{json.dumps(found, indent=2)}"
