"""Identity tokens (Ed25519 JWTs), see docs/decisions/0003 and 0201.

- A user's identity: the gateway signs it (issuer ``homecraft-gateway``); only the gateway holds
  that private key, so no service can mint a user's identity. Claims: user id, username, roles.
- A service's own identity: each service signs with its own key (issuer
  ``homecraft-service:<name>``), for work with no user behind it (a consumer, a download). The
  receiver verifies it with the public key it was configured to trust for that service name, and
  gets an ``Identity`` whose ``service`` names the caller and whose only role is ``service``.
- Grants: a service may sign narrow claims for another audience (e.g. orders' single-asset
  download grant, which the catalog verifies with orders' public key).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from homecraft_shared.errors import Forbidden, Unauthorized
from homecraft_shared.openapi import BEARER_SCHEME, OPTIONAL_BEARER_SCHEME

ALGORITHM = "EdDSA"
ISSUER = "homecraft-gateway"
AUDIENCE = "homecraft-services"
DEFAULT_TTL = dt.timedelta(minutes=2)

# The raw bearer token of the request being served, forwarded on service-to-service calls.
identity_token_var: ContextVar[str | None] = ContextVar("identity_token", default=None)

OWNER_ROLES = frozenset({"owner", "staff"})
SERVICE_ROLE = "service"
SERVICE_ISSUER_PREFIX = "homecraft-service:"
SERVICE_TTL = dt.timedelta(seconds=60)
# The audience of orders' single-asset download grants, which the catalog verifies (decision 0201).
DOWNLOAD_GRANT_AUDIENCE = "homecraft-catalog-download"
# How many verified tokens a verifier remembers (see IdentityVerifier.verify).
VERIFIED_TOKENS_KEPT = 1024


@dataclass(frozen=True)
class Identity:
    user_id: str
    username: str
    roles: frozenset[str]
    # The calling service's name when the caller is a service acting as itself, else None.
    service: str | None = None

    @property
    def is_owner(self) -> bool:
        """Owners, staff and superusers (I1)."""
        return bool(self.roles & OWNER_ROLES)

    @property
    def is_staff(self) -> bool:
        return "staff" in self.roles

    @property
    def is_seller(self) -> bool:
        """Owners count as sellers too (I1)."""
        return "seller" in self.roles or self.is_owner


def generate_keypair() -> tuple[str, str]:
    """A new Ed25519 key pair as (private PEM, public PEM)."""
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    return private_pem, public_pem


def _load_private(pem: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"identity keys are Ed25519, not {type(key).__name__}")
    return key


class IdentitySigner:
    def __init__(self, private_key_pem: str, ttl: dt.timedelta = DEFAULT_TTL) -> None:
        self._key = _load_private(private_key_pem)
        self._ttl = ttl

    def sign(self, identity: Identity) -> str:
        now = dt.datetime.now(dt.UTC)
        claims = {
            "sub": identity.user_id,
            "name": identity.username,
            "roles": sorted(identity.roles),
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + self._ttl,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)


def service_issuer(service: str) -> str:
    return f"{SERVICE_ISSUER_PREFIX}{service}"


class ServiceSigner:
    """A service's own signing key: tokens naming the service, and narrow grants for another audience."""

    def __init__(self, service: str, private_key_pem: str, ttl: dt.timedelta = SERVICE_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.service = service
        self._key = _load_private(private_key_pem)
        self._ttl = ttl
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0

    def token(self) -> str:
        """A bearer token saying "I am <service>" to the other services. The same token is reused for the
        first half of its lifetime (one signature, and one verification on the receiving side, per half
        TTL instead of per call); then a new one is signed."""
        now = self._clock()
        if self._token is None or now >= self._renew_at:
            self._token = self.sign_claims(
                {"sub": f"service:{self.service}", "name": self.service, "roles": [SERVICE_ROLE]},
                audience=AUDIENCE, ttl=self._ttl)
            self._renew_at = now + self._ttl.total_seconds() / 2
        return self._token

    def sign_claims(self, claims: dict[str, Any], *, audience: str, ttl: dt.timedelta) -> str:
        now = dt.datetime.now(dt.UTC)
        full = {**claims, "iss": service_issuer(self.service), "aud": audience, "iat": now, "exp": now + ttl}
        return jwt.encode(full, self._key, algorithm=ALGORITHM)

    def authorization(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()}"}


def _load_public(pem: str) -> Any:
    return serialization.load_pem_public_key(pem.encode())


class IdentityVerifier:
    """Verifies users' tokens (the gateway's key) and services' own tokens (the keys trusted per service)."""

    def __init__(self, public_key_pem: str | None, trusted_services: dict[str, str] | None = None, *,
                 keep: int = VERIFIED_TOKENS_KEPT, clock: Callable[[], float] = time.time) -> None:
        self._key = _load_public(public_key_pem) if public_key_pem else None
        self._services = {name: _load_public(pem) for name, pem in (trusted_services or {}).items()}
        self._keep = keep
        self._clock = clock
        # token -> (its exp, the identity it proved); oldest first. Only tokens that passed verification.
        self._verified: dict[str, tuple[float, Identity]] = {}

    def _issuer(self, token: str) -> str:
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss", "")
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"identity token rejected: {exc}") from exc
        return str(issuer)

    def _service_key(self, issuer: str) -> tuple[str, Any]:
        service = issuer.removeprefix(SERVICE_ISSUER_PREFIX)
        key = self._services.get(service)
        if key is None:
            raise Unauthorized(f"identity token rejected: service {service!r} is not trusted here")
        return service, key

    def verify(self, token: str) -> Identity:
        """The identity a token proves. A token that passed is remembered until its ``exp`` (keyed by the
        exact token string, so any other token, however close, is verified in full): a service's own
        token reused across calls, or one user's token across a page's fan-out, costs one signature
        check. Past ``exp`` the full check runs again and refuses it (after its small leeway)."""
        known = self._verified.get(token)
        if known is not None:
            if self._clock() < known[0]:
                return known[1]
            del self._verified[token]
        identity, expires = self._verify(token)
        if len(self._verified) >= self._keep:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (expires, identity)
        return identity

    def _verify(self, token: str) -> tuple[Identity, float]:
        issuer = self._issuer(token)
        if issuer.startswith(SERVICE_ISSUER_PREFIX):
            service, key = self._service_key(issuer)
            claims = self._decode(token, key, issuer, AUDIENCE)
            # A service's key proves only that service: never a user, never another role.
            return Identity(user_id=f"service:{service}", username=service, roles=frozenset({SERVICE_ROLE}),
                            service=service), float(claims["exp"])
        if self._key is None:
            raise Unauthorized("this service has no identity public key configured")
        claims = self._decode(token, self._key, ISSUER, AUDIENCE)
        return Identity(
            user_id=str(claims["sub"]),
            username=str(claims.get("name", "")),
            roles=frozenset(claims.get("roles", [])),
        ), float(claims["exp"])

    def verify_grant(self, token: str, *, service: str, audience: str) -> dict[str, Any]:
        """The claims of a grant ``service`` signed for ``audience`` (e.g. a download grant)."""
        issuer = service_issuer(service)
        if self._issuer(token) != issuer:
            raise Unauthorized(f"grant rejected: it must be issued by {service}")
        _, key = self._service_key(issuer)
        return self._decode(token, key, issuer, audience)

    @staticmethod
    def _decode(token: str, key: Any, issuer: str, audience: str) -> dict[str, Any]:
        try:
            return jwt.decode(token, key, algorithms=[ALGORITHM], audience=audience, issuer=issuer,
                              options={"require": ["sub", "exp", "iat"]}, leeway=5)
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"identity token rejected: {exc}") from exc


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _verifier(request: Request) -> IdentityVerifier:
    verifier: IdentityVerifier | None = request.app.state.runtime.identity_verifier
    if verifier is None:
        raise Unauthorized("this service has no identity public key configured")
    return verifier


def request_verifier(request: Request) -> IdentityVerifier:
    """The running service's verifier (for grants an endpoint checks itself)."""
    return _verifier(request)


# FastAPI security schemes: they put the bearer scheme and each operation's security requirement in
# the OpenAPI document (homecraft_shared.openapi merges the optional one into "bearer"). They never
# refuse a request themselves (auto_error=False): the dependencies below decide, with problem answers.
_required_bearer = HTTPBearer(scheme_name=BEARER_SCHEME, auto_error=False)
_optional_bearer = HTTPBearer(scheme_name=OPTIONAL_BEARER_SCHEME, auto_error=False)


def _identity_of(request: Request) -> Identity | None:
    token = bearer_token(request)
    if token is None:
        return None
    identity = _verifier(request).verify(token)
    identity_token_var.set(token)
    return identity


async def optional_identity(
    request: Request, _: HTTPAuthorizationCredentials | None = Depends(_optional_bearer)
) -> Identity | None:
    """FastAPI dependency: the caller's identity, or None for anonymous calls (a bad token is still a 401)."""
    return _identity_of(request)


async def require_identity(
    request: Request, _: HTTPAuthorizationCredentials | None = Depends(_required_bearer)
) -> Identity:
    identity = _identity_of(request)
    if identity is None:
        raise Unauthorized("sign in first: this call needs an identity token")
    return identity


async def require_owner(identity: Identity = Depends(require_identity)) -> Identity:
    if not identity.is_owner:
        raise Forbidden("only marketplace owners and staff may do this")
    return identity
