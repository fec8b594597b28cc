"""Accounts (I1-I3): users with argon2 password hashes, usernames unique case-insensitively."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.models import User

hasher = PasswordHasher()
# A hash to verify against when the username is unknown, so both cases take the same time.
_DUMMY_HASH = hasher.hash("not-a-real-password")

USERNAME = re.compile(r"^[A-Za-z0-9_.@+-]{3,150}$")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
MIN_PASSWORD = 8
SHOP_NAME_MAX = 80  # I2; the public seller label is the shop name or the username


CONTROL_MESSAGE = "Remove the control characters from this field."


def unprintable(value: str) -> bool:
    """Control characters (a NUL that PostgreSQL refuses and SQLite stores) or lone surrogates (no
    driver encodes them): refused in every stored field, the same on both databases (decision 0021)."""
    return any(unicodedata.category(c) in ("Cc", "Cs") and c != "\t" for c in value)


class UsernameTaken(Exception):
    pass


def validate_registration(username: str, email: str, password: str, confirm: str, seller: bool,
                          shop_name: str) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not USERNAME.match(username):
        errors["username"] = "3-150 characters: letters, digits and @ . + - _ only."
    if email and (len(email) > 254 or not EMAIL.match(email)):  # optional at registration (I2)
        errors["email"] = "Enter a valid email address, or leave it empty."
    if len(password) < MIN_PASSWORD:
        errors["password"] = f"At least {MIN_PASSWORD} characters."
    elif password.lower() in (username.lower(), email.lower() or username.lower()):
        errors["password"] = "The password is too similar to your username or email."
    elif len(password) > 1024:
        errors["password"] = "At most 1024 characters."
    if password != confirm:
        errors["confirm"] = "The two passwords differ."
    if len(shop_name.strip()) > SHOP_NAME_MAX:
        errors["shop_name"] = f"At most {SHOP_NAME_MAX} characters."
    for name, value in (("email", email), ("shop_name", shop_name)):
        if name not in errors and unprintable(value):
            errors[name] = CONTROL_MESSAGE
    return errors


async def find_by_username(db: AsyncSession, username: str) -> User | None:
    return (await db.execute(select(User).where(User.username_key == username.strip().lower()))).scalar_one_or_none()


async def create_user(db: AsyncSession, *, username: str, email: str, password: str, seller: bool = False,
                      owner: bool = False, shop_name: str = "", user_id: str | None = None) -> User:
    if await find_by_username(db, username) is not None:
        raise UsernameTaken()
    user = User(id=user_id or f"user-{uuid.uuid4().hex}", username=username.strip(), username_key=username.strip().lower(),
                email=email.strip().lower(), password_hash=hasher.hash(password), is_seller=seller or owner,
                is_owner=owner, shop_name=shop_name.strip(), is_active=True)
    db.add(user)
    try:
        async with db.begin_nested():
            await db.flush()
    except IntegrityError as exc:  # the race: another registration took it between the check and the insert
        raise UsernameTaken() from exc
    return user


async def authenticate(db: AsyncSession, username: str, password: str) -> User | None:
    # A name no account can have is not looked up (it may hold what the database refuses), but it
    # still costs a hash, like an unknown one.
    user = await find_by_username(db, username) if USERNAME.match(username.strip()) else None
    try:
        hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.is_active:
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return user


async def seller_labels(db: AsyncSession, seller_ids: Iterable[str]) -> dict[str, str]:
    """The public label of each seller (I2: the shop name, else the username), all in one query."""
    ids = sorted({i for i in seller_ids if i})
    if not ids:
        return {}
    rows = await db.execute(select(User.id, User.shop_name, User.username).where(User.id.in_(ids)))
    return {user_id: shop_name.strip() or username for user_id, shop_name, username in rows}
