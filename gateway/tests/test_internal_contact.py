"""The gateway's internal contact lookup (decision 0602): only a service the gateway trusts (0201)
reads a user's email and display name; everyone else is refused, an unknown user is a 404."""

from __future__ import annotations

from gateway.accounts.service import create_user
from gateway.app import create_app
from gateway.models import User
from gateway.settings import GatewaySettings
from homecraft_shared.identity import ServiceSigner, generate_keypair
from homecraft_shared.testing import bearer, serve_app
from homecraft_shared.testing.infra import free_port

GATEWAY_PRIVATE, GATEWAY_PUBLIC = generate_keypair()
REFUNDS_PRIVATE, REFUNDS_PUBLIC = generate_keypair()
ORDERS_PRIVATE, _ = generate_keypair()


def _settings(database_url: str, nats_url: str) -> GatewaySettings:
    closed = f"http://127.0.0.1:{free_port()}"
    return GatewaySettings(database_url=database_url, nats_url=nats_url, catalog_url=closed, orders_url=closed,
                           payments_url=closed, refunds_url=closed, engagement_url=closed,
                           identity_private_key=GATEWAY_PRIVATE, identity_public_key=GATEWAY_PUBLIC,
                           trusted_service_keys={"refunds": REFUNDS_PUBLIC})


def refunds_service() -> dict[str, str]:
    return ServiceSigner("refunds", REFUNDS_PRIVATE).authorization()


async def test_a_trusted_service_reads_a_users_contact(database_url: str, nats_url: str) -> None:
    app = create_app(_settings(database_url, nats_url))
    async with serve_app(app) as client:
        async with app.state.runtime.sessionmaker() as db:
            await create_user(db, username="Maker", email="Maker@Example.com", password="long enough 1",
                              seller=True, user_id="seller-maker")
            await create_user(db, username="quiet", email="", password="long enough 1", user_id="buyer-quiet")
            named = await create_user(db, username="named", email="n@example.com", password="long enough 1",
                                      user_id="buyer-named")
            named.first_name, named.last_name = "Ada", "Lovelace"
            await db.commit()

        response = await client.get("/internal/users/seller-maker/contact", headers=refunds_service())
        assert response.status_code == 200, response.text
        assert response.json() == {"user_id": "seller-maker", "email": "maker@example.com", "display_name": "Maker"}
        named_contact = (await client.get("/internal/users/buyer-named/contact", headers=refunds_service())).json()
        assert named_contact["display_name"] == "Ada Lovelace"
        # The email is optional at registration (I2): no address is said plainly, not invented.
        quiet = (await client.get("/internal/users/buyer-quiet/contact", headers=refunds_service())).json()
        assert quiet == {"user_id": "buyer-quiet", "email": None, "display_name": "quiet"}


async def test_only_trusted_services_get_in_and_unknown_users_are_404(database_url: str, nats_url: str) -> None:
    app = create_app(_settings(database_url, nats_url))
    async with serve_app(app) as client:
        async with app.state.runtime.sessionmaker() as db:
            user = await create_user(db, username="buyer", email="b@example.com", password="long enough 1",
                                     user_id="buyer-1")
            await create_user(db, username="gone", email="g@example.com", password="long enough 1", user_id="buyer-gone")
            await db.commit()
            gone = await db.get(User, "buyer-gone")
            assert gone is not None
            gone.is_active = False
            await db.commit()
        path = f"/internal/users/{user.id}/contact"

        anonymous = await client.get(path)
        assert anonymous.status_code == 401
        # A user's token, even the owner's, is not a service's: 403 with what to use instead.
        for roles in ((), ("owner",), ("service",)):
            refused = await client.get(path, headers=bearer(GATEWAY_PRIVATE, "owner-1", *roles))
            assert refused.status_code == 403, refused.text
            assert "service's own identity token" in refused.json()["detail"]
        # A service this gateway does not trust (orders has no key here): 401 naming it.
        untrusted = await client.get(path, headers=ServiceSigner("orders", ORDERS_PRIVATE).authorization())
        assert untrusted.status_code == 401
        assert "'orders' is not trusted" in untrusted.json()["detail"]
        # A key that signs as "refunds" but is not refunds' key is refused too.
        forged = await client.get(path, headers=ServiceSigner("refunds", ORDERS_PRIVATE).authorization())
        assert forged.status_code == 401

        for missing in ("nobody", "buyer-gone", "x" * 65):
            not_found = await client.get(f"/internal/users/{missing}/contact", headers=refunds_service())
            assert not_found.status_code == 404
            assert not_found.headers["content-type"].startswith("application/problem+json")
            assert missing in not_found.json()["detail"]


async def test_the_contact_lookup_documents_its_refusals(database_url: str, nats_url: str) -> None:
    async with serve_app(create_app(_settings(database_url, nats_url))) as client:
        schema = (await client.get("/openapi.json")).json()
    operation = schema["paths"]["/internal/users/{user_id}/contact"]["get"]
    assert {"200", "401", "403", "404"} <= set(operation["responses"])
