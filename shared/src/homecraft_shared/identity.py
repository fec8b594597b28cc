"""The identity token: the gateway signs it (Ed25519), services verify it.

Only the gateway holds the private key, so no service can mint an identity; services get the
public key. Tokens are short-lived and carry the user id, username and roles.
"""

from __future__ import annotations

import datetime as dt
from contextvars import ContextVar
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Identity:
    user_id: str
    username: str
    roles: frozenset[str]

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


class IdentitySigner:
    def __init__(self, private_key_pem: str, ttl: dt.timedelta = DEFAULT_TTL) -> None:
        self._key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
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


class IdentityVerifier:
    def __init__(self, public_key_pem: str) -> None:
        self._key = serialization.load_pem_public_key(public_key_pem.encode())

    def verify(self, token: str) -> Identity:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["sub", "exp", "iat"]},
                leeway=5,
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"identity token rejected: {exc}") from exc
        return Identity(
            user_id=str(claims["sub"]),
            username=str(claims.get("name", "")),
            roles=frozenset(claims.get("roles", [])),
        )


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _verifier(request: Request) -> IdentityVerifier:
    verifier: IdentityVerifier | None = request.app.state.runtime.identity_verifier
    if verifier is None:
        raise Unauthorized("this service has no identity public key configured")
    return verifier


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
