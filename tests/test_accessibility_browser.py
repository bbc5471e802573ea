"""axe-core (npm, a dev dependency) over every page of the site in Chromium, at desktop
width and as a 390 px touch phone, logged out and as the streamer: no violation axe
rates serious or critical. Each page is checked as a viewer finds it, with the player's
controls shown (focus in the player) where it has them."""

import json

import pytest
from django.conf import settings

from tests.site_pages import every_page, log_in

pytestmark = [pytest.mark.browser, pytest.mark.engine_independent]

AXE = settings.BASE_DIR / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        **{"is_mobile": True, "has_touch": True, "device_scale_factor": 2},
    },
}
BLOCKING = ("serious", "critical")
# The phone's folded header menu, checked open too: once logged out, once logged in.
MENU_OPEN_ON = ("home", "dashboard")


def axe_violations(page) -> list[dict]:
    """axe's serious and critical violations on the page as it is now (WCAG 2.x A/AA and
    axe's best practices: every rule axe runs by default)."""
    # The site's CSP allows no inline script; the context bypasses it for axe alone.
    page.add_script_tag(content=AXE.read_text())
    found = page.evaluate("async () => (await axe.run(document, { resultTypes: ['violations'] })).violations")
    return [violation for violation in found if violation["impact"] in BLOCKING]


def readable(where: str, violation: dict) -> str:
    lines = [f"{where}: [{violation['impact']}] {violation['id']}: {violation['help']} ({violation['helpUrl']})"]
    for node in violation["nodes"][:6]:
        summary = " ".join(node.get("failureSummary", "").split())
        lines.append(f"    {json.dumps(node['target'])} {node['html'][:160]}\n        {summary[:400]}")
    if len(violation["nodes"]) > 6:
        lines.append(f"    … and {len(violation['nodes']) - 6} more")
    return "\n".join(lines)


def test_every_page_passes_axe(browser, plane, publisher):
    assert AXE.exists(), "npm ci installs axe-core (package.json devDependencies)"
    pages = {
        size: browser.new_context(base_url=settings.PUBLIC_URL, bypass_csp=True, **options).new_page()
        for size, options in SIZES.items()
    }

    def log_in_as(username: str) -> None:
        for page in pages.values():
            log_in(page, username)

    problems: list[str] = []
    checked = 0
    for site_page in every_page(publisher, log_in_as=log_in_as):
        for size, page in pages.items():
            assert page.goto(site_page.url).status == site_page.status, (site_page.name, site_page.url)
            if site_page.ready:
                site_page.ready(page)
            # The player's bar fades while the video plays: check it as a viewer using it sees it.
            frame = page.locator("#player-frame[tabindex='0']")
            if frame.count():
                frame.focus()
            problems += [readable(f"{site_page.name} ({size})", v) for v in axe_violations(page)]
            checked += 1
            if size == "phone" and site_page.name in MENU_OPEN_ON:
                page.get_by_test_id("menu-toggle").click()
                problems += [readable(f"{site_page.name} (phone, menu open)", v) for v in axe_violations(page)]
    for page in pages.values():
        page.context.close()
    assert checked >= 2 * 20, checked
    report = "\n".join(problems)
    print(report or f"axe: no serious or critical violation on {checked} page views")
    assert not problems, f"axe found {len(problems)} serious or critical violations:\n{report}"
