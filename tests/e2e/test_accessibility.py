"""Accessibility (axe-core through axe-playwright-python): no serious or critical violations on the
key pages: home, browse, product, cart with its checkout form, sign-in, register, an order page.
Plus: another user's order is not found (a signed-in stranger, and a guest without the token)."""

from __future__ import annotations

from pathlib import Path

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect
from test_journeys import add_first_buyable, sign_in

from devstack.harness import RunningStack

AXE = Axe()
BLOCKING = {"serious", "critical"}


def assert_accessible(page: Page, name: str, artifacts: Path) -> None:
    results = AXE.run(page)
    blocking = [v for v in results.response["violations"] if v.get("impact") in BLOCKING]
    page.screenshot(path=str(artifacts / f"a11y-{name}.png"), full_page=True)
    assert not blocking, f"{name}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}" for v in blocking)


def place_order_and_return_unpaid(page: Page, stack: RunningStack) -> str:
    """A guest order left unpaid: back from the hosted page through its cancel link; the order's URL."""
    add_first_buyable(page, stack.storefront + "/browse/models")
    page.locator("#email").fill("a11y@example.com")
    page.locator("#place-order").click()
    page.locator("#cancel").click()
    expect(page.locator("#order-status")).to_have_text("Pending")
    return page.url


def test_key_pages_have_no_serious_accessibility_violations(stack: RunningStack, page: Page, artifacts: Path) -> None:
    page.goto(stack.storefront + "/")
    assert_accessible(page, "home", artifacts)
    page.goto(stack.storefront + "/browse?q=lamp")
    assert_accessible(page, "browse", artifacts)
    page.locator("article.card").first.click()
    expect(page.locator("#product-title")).to_be_visible()
    assert_accessible(page, "product", artifacts)
    page.goto(stack.storefront + "/account/signin")
    assert_accessible(page, "signin", artifacts)
    page.goto(stack.storefront + "/account/register")
    assert_accessible(page, "register", artifacts)
    order_url = place_order_and_return_unpaid(page, stack)
    assert_accessible(page, "order", artifacts)
    add_first_buyable(page, stack.storefront + "/browse/files")
    assert_accessible(page, "cart-and-checkout", artifacts)
    assert "/orders/" in order_url


def test_another_users_order_is_not_found(stack: RunningStack, browser: Browser) -> None:
    owner = browser.new_context().new_page()
    order_url = place_order_and_return_unpaid(owner, stack)
    bare = order_url.split("?")[0]
    stranger = browser.new_context().new_page()
    sign_in(stranger, stack, "hedy")
    for url in (bare, bare + "?t=not-the-token"):
        response = stranger.goto(url)
        assert response is not None and response.status == 404
        expect(stranger.locator("h1")).to_have_text("Not found")
    guest = browser.new_context().new_page()
    response = guest.goto(bare)
    assert response is not None and response.status == 404
    # The placer's own browser still sees it (its session remembers the token).
    response = owner.goto(bare)
    assert response is not None and response.status == 200
