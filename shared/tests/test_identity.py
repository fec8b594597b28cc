"""Identity tokens: the gateway signs with Ed25519, services verify and reject anything else."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from homecraft_shared.errors import Unauthorized
from homecraft_shared.identity import (
    AUDIENCE,
    ISSUER,
    SERVICE_ROLE,
    Identity,
    IdentitySigner,
    IdentityVerifier,
    ServiceSigner,
    generate_keypair,
)

ALICE = Identity(user_id="u-1", username="alice", roles=frozenset({"seller", "buyer"}))


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    return generate_keypair()


def test_sign_then_verify_round_trips(keys: tuple[str, str]) -> None:
    private, public = keys
    token = IdentitySigner(private).sign(ALICE)
    assert IdentityVerifier(public).verify(token) == ALICE
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"


def test_roles(keys: tuple[str, str]) -> None:
    assert Identity("1", "o", frozenset({"owner"})).is_owner
    assert Identity("1", "o", frozenset({"owner"})).is_seller
    assert not Identity("1", "b", frozenset({"buyer"})).is_seller
    assert Identity("1", "s", frozenset({"staff"})).is_staff


def test_token_from_another_key_is_rejected(keys: tuple[str, str]) -> None:
    other_private, _ = generate_keypair()
    token = IdentitySigner(other_private).sign(ALICE)
    with pytest.raises(Unauthorized, match="identity token rejected"):
        IdentityVerifier(keys[1]).verify(token)


def test_expired_token_is_rejected(keys: tuple[str, str]) -> None:
    token = IdentitySigner(keys[0], ttl=dt.timedelta(seconds=-30)).sign(ALICE)  # beyond the 5 s leeway
    with pytest.raises(Unauthorized, match="expired"):
        IdentityVerifier(keys[1]).verify(token)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_tampered_claims_are_rejected(keys: tuple[str, str]) -> None:
    token = IdentitySigner(keys[0]).sign(ALICE)
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["owner", "staff"]  # privilege escalation attempt
    forged = ".".join([header, _b64(json.dumps(claims).encode()), signature])
    with pytest.raises(Unauthorized, match="identity token rejected"):
        IdentityVerifier(keys[1]).verify(forged)


def test_tampered_signature_is_rejected(keys: tuple[str, str]) -> None:
    token = IdentitySigner(keys[0]).sign(ALICE)
    header, payload, signature = token.split(".")
    flipped = signature[:-2] + ("AA" if signature[-2:] != "AA" else "BB")
    with pytest.raises(Unauthorized):
        IdentityVerifier(keys[1]).verify(f"{header}.{payload}.{flipped}")


def test_unsigned_and_hmac_tokens_are_rejected(keys: tuple[str, str]) -> None:
    now = int(dt.datetime.now(dt.UTC).timestamp())
    claims = {"sub": "u-1", "roles": ["owner"], "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 60}
    body = _b64(json.dumps(claims).encode())
    unsigned = f"{_b64(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{body}."
    # The classic algorithm confusion: HS256 keyed with the (public) verification key.
    hs_header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    mac = hmac.new(keys[1].encode(), f"{hs_header}.{body}".encode(), hashlib.sha256).digest()
    confused = f"{hs_header}.{body}.{_b64(mac)}"
    for token in (unsigned, confused, "not-a-token", ""):
        with pytest.raises(Unauthorized):
            IdentityVerifier(keys[1]).verify(token)


def test_wrong_audience_or_issuer_is_rejected(keys: tuple[str, str]) -> None:
    now = dt.datetime.now(dt.UTC)
    private = serialization.load_pem_private_key(keys[0].encode(), password=None)
    base = {"sub": "u-1", "iat": now, "exp": now + dt.timedelta(minutes=1)}
    for extra in ({"iss": ISSUER, "aud": "someone-else"}, {"iss": "not-the-gateway", "aud": AUDIENCE}):
        token = jwt.encode({**base, **extra}, private, algorithm="EdDSA")
        with pytest.raises(Unauthorized):
            IdentityVerifier(keys[1]).verify(token)


# --- a service's own identity (decision 0201) ------------------------------------------------------

def test_service_token_names_the_calling_service(keys: tuple[str, str]) -> None:
    orders_private, orders_public = generate_keypair()
    verifier = IdentityVerifier(keys[1], {"orders": orders_public})
    identity = verifier.verify(ServiceSigner("orders", orders_private).token())
    assert identity.service == "orders" and identity.roles == frozenset({SERVICE_ROLE})
    assert identity.user_id == "service:orders" and not identity.is_owner
    # User tokens keep working beside it, and carry no service.
    assert verifier.verify(IdentitySigner(keys[0]).sign(ALICE)) == ALICE


def test_an_untrusted_or_impersonating_service_is_rejected(keys: tuple[str, str]) -> None:
    _, orders_public = generate_keypair()
    rogue_private, _ = generate_keypair()
    verifier = IdentityVerifier(keys[1], {"orders": orders_public})
    with pytest.raises(Unauthorized, match="not trusted"):
        verifier.verify(ServiceSigner("payments", rogue_private).token())
    with pytest.raises(Unauthorized):  # claims to be orders, signed with another key
        verifier.verify(ServiceSigner("orders", rogue_private).token())


def test_a_service_key_cannot_mint_a_user_identity(keys: tuple[str, str]) -> None:
    orders_private, orders_public = generate_keypair()
    verifier = IdentityVerifier(keys[1], {"orders": orders_public})
    forged = IdentitySigner(orders_private).sign(Identity("u-9", "eve", frozenset({"owner"})))  # issuer: the gateway
    with pytest.raises(Unauthorized, match="identity token rejected"):
        verifier.verify(forged)


def test_grants_are_checked_for_issuer_and_audience(keys: tuple[str, str]) -> None:
    orders_private, orders_public = generate_keypair()
    signer = ServiceSigner("orders", orders_private)
    verifier = IdentityVerifier(keys[1], {"orders": orders_public})
    grant = signer.sign_claims({"sub": "order:1", "asset": "a-1"}, audience="downloads", ttl=dt.timedelta(minutes=5))
    assert verifier.verify_grant(grant, service="orders", audience="downloads")["asset"] == "a-1"
    with pytest.raises(Unauthorized):
        verifier.verify_grant(grant, service="orders", audience="something-else")
    with pytest.raises(Unauthorized):
        verifier.verify(grant)  # a grant is not a bearer identity
    expired = signer.sign_claims({"sub": "order:1", "asset": "a-1"}, audience="downloads", ttl=dt.timedelta(seconds=-30))
    with pytest.raises(Unauthorized, match="expired"):
        verifier.verify_grant(expired, service="orders", audience="downloads")


# --- verified tokens are remembered until they expire; service tokens are reused -------------------

def test_a_remembered_token_is_still_refused_once_expired(keys: tuple[str, str]) -> None:
    now = [dt.datetime.now(dt.UTC).timestamp()]
    verifier = IdentityVerifier(keys[1], clock=lambda: now[0])
    token = IdentitySigner(keys[0], ttl=dt.timedelta(seconds=60)).sign(ALICE)
    assert verifier.verify(token) == ALICE
    assert verifier.verify(token) == ALICE  # remembered
    now[0] += 61  # past exp: the full check runs again (jwt's own clock) and is still inside the leeway...
    assert verifier.verify(token) == ALICE
    expired = IdentitySigner(keys[0], ttl=dt.timedelta(seconds=-30)).sign(ALICE)
    with pytest.raises(Unauthorized, match="expired"):
        verifier.verify(expired)
    with pytest.raises(Unauthorized, match="expired"):  # ...and a refused token is never remembered
        verifier.verify(expired)


def test_a_remembered_token_does_not_vouch_for_an_altered_one(keys: tuple[str, str]) -> None:
    verifier = IdentityVerifier(keys[1])
    token = IdentitySigner(keys[0]).sign(ALICE)
    assert verifier.verify(token) == ALICE
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["roles"] = ["owner"]
    forged = ".".join([header, base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode(), signature])
    with pytest.raises(Unauthorized):
        verifier.verify(forged)


def test_the_remembered_tokens_are_bounded(keys: tuple[str, str]) -> None:
    verifier = IdentityVerifier(keys[1], keep=2)
    tokens = [IdentitySigner(keys[0]).sign(Identity(f"u-{n}", "u", frozenset())) for n in range(3)]
    for token in tokens:
        verifier.verify(token)
    assert len(verifier._verified) == 2 and tokens[0] not in verifier._verified


def test_a_service_reuses_its_token_for_half_its_lifetime(keys: tuple[str, str]) -> None:
    private, public = generate_keypair()
    now = [1000.0]
    signer = ServiceSigner("orders", private, ttl=dt.timedelta(seconds=60), clock=lambda: now[0])
    signed: list[str] = []
    sign = signer.sign_claims
    signer.sign_claims = lambda *a, **k: signed.append(token := sign(*a, **k)) or token  # type: ignore[method-assign]
    first = signer.token()
    now[0] += 29
    assert signer.token() == first and len(signed) == 1
    now[0] += 2
    renewed = signer.token()
    assert len(signed) == 2 and renewed == signed[-1]
    assert IdentityVerifier(None, {"orders": public}).verify(renewed).service == "orders"
