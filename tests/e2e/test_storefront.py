"""The storefront in a real browser, against the whole marketplace started by the run command."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from devstack.harness import RunningStack
from homecraft_shared.identity import Identity, IdentitySigner


def test_home_page_shows_the_demo_catalog_with_images(stack: RunningStack, page: Page) -> None:
    """C6 through the gateway: the four home buckets, composed from the catalog, with real images."""
    page.goto(stack.storefront + "/")
    expect(page.locator("header .brand")).to_have_text("Home Craft 3D")
    sections = page.locator("main section")
    expect(sections.first).to_be_visible()
    labels = sections.evaluate_all("els => els.map(e => e.getAttribute('aria-label'))")
    assert {"Featured", "New arrivals"} <= set(labels), labels
    cards = page.locator("article.card")
    assert cards.count() >= 8
    # Every card image actually loads through the gateway's media proxy (they are lazy: scroll to each).
    images = page.locator("article.card img")
    for index in range(images.count()):
        images.nth(index).scroll_into_view_if_needed()
    page.wait_for_load_state("networkidle")
    broken = images.evaluate_all(
        "imgs => imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
    )
    assert broken == []
    assert page.locator("article.card .badge", has_text="Trending").count() >= 1  # C7 badge


def test_correlation_id_follows_the_request_into_the_catalog(stack: RunningStack) -> None:
    correlation = f"e2e-{uuid.uuid4().hex}"
    # A search no page asked before: the gateway's 5 s read cache cannot answer it, the catalog does.
    response = httpx.get(stack.storefront + "/browse", params={"q": f"lamp {uuid.uuid4().hex[:8]}"},
                         headers={"X-Correlation-Id": correlation}, timeout=10)
    assert response.status_code == 200
    assert response.headers["x-correlation-id"] == correlation
    # Request lines are logged after the response is sent and reach the log files through the run
    # command's output pump, so give them a moment.
    for log in ("gateway.log", "catalog.log"):
        assert wait_for_text(stack.data_dir / "logs" / log, correlation), f"{log} never saw {correlation}"


def wait_for_text(path: Path, text: str, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if text in path.read_text():
            return True
        time.sleep(0.1)
    return False


def test_a_card_click_and_product_view_reach_engagement(stack: RunningStack, page: Page) -> None:
    """E1: the storefront records the card click and the view through engagement's ingestion (the
    gateway's own service identity, decision 0201), fire and forget; the seller's analytics count them."""
    page.goto(stack.storefront + "/browse")
    page.locator("article.card").first.click()
    expect(page.locator("#product-title")).to_be_visible()
    product_id = page.url.split("?")[0].rsplit("/", 1)[-1]
    detail = httpx.get(f"{stack.services['catalog']}/browse/products/{product_id}", timeout=10).json()
    private_key = (stack.data_dir / "keys" / "identity-private.pem").read_text()
    owner = IdentitySigner(private_key).sign(Identity(user_id="e2e-owner", username="e2e-owner",
                                                      roles=frozenset({"owner"})))
    deadline = time.monotonic() + 20
    figures: dict[str, int] = {}
    while time.monotonic() < deadline:
        analytics = httpx.get(f"{stack.services['engagement']}/sellers/me/analytics",
                              params={"seller_id": detail["seller_id"]},
                              headers={"Authorization": f"Bearer {owner}"}, timeout=10)
        assert analytics.status_code == 200, analytics.text
        listing = [row for row in analytics.json()["listings"] if row["product_id"] == product_id]
        figures = listing[0]["totals"] if listing else {}
        if figures.get("views", 0) >= 1 and figures.get("clicks", 0) >= 1:
            break
        time.sleep(0.25)
    assert figures.get("views", 0) >= 1 and figures.get("clicks", 0) >= 1, figures
