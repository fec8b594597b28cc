"""Listing media on disk: product images (public) and digital asset files (never public).

Files are stored under ``CatalogSettings.media_root`` by a random key (32 hex characters), never by
a name the user gave: ``<root>/<area>/<key[:2]>/<key>``. An upload is streamed in chunks into a
temporary file (hashing and counting as it goes, stopping at the size limit), checked by content,
then moved into place.

Files follow the request's transaction: a file stored by a request that then rolls back is removed,
and a file whose row is deleted is removed only once the deletion committed (listeners below, the
same pattern as the outbox's relay wake-up). A crash between the move and the commit can leave an
orphan file, never a row without its file.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fastapi import UploadFile
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from catalog import content
from catalog.models import AssetFormat
from homecraft_shared.errors import Problem, ValidationFailed

Area = Literal["images", "assets"]
KEY_PATTERN = re.compile(r"[0-9a-f]{32}")

_STORED_IN_TX = "catalog_media_stored"  # files to remove if the transaction rolls back
_DOOMED_IN_TX = "catalog_media_doomed"  # files to remove once the transaction committed


class PayloadTooLarge(Problem):
    status = 413
    title = "Upload too large"


class UnsupportedMediaType(Problem):
    status = 415
    title = "Unsupported file type"


def new_key() -> str:
    return secrets.token_hex(16)


def human_size(size: int) -> str:
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size} bytes"


@dataclass
class Received:
    """An upload written to a temporary file, not yet kept."""

    temp_path: Path
    size: int
    sha256: str


class MediaStorage:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path_for(self, area: Area, key: str) -> Path:
        if not KEY_PATTERN.fullmatch(key):
            raise ValueError(f"not a storage key: {key!r}")
        return self.root / area / key[:2] / key

    def exists(self, area: Area, key: str) -> bool:
        return KEY_PATTERN.fullmatch(key) is not None and self.path_for(area, key).is_file()

    @contextlib.asynccontextmanager
    async def receive(
        self, upload: UploadFile, *, max_bytes: int, chunk_bytes: int, what: str
    ) -> AsyncIterator[Received]:
        """Stream ``upload`` to a temporary file; the file is removed on exit unless ``keep`` moved it."""
        temp_dir = self.root / "tmp"
        await asyncio.to_thread(temp_dir.mkdir, parents=True, exist_ok=True)
        temp_path = temp_dir / new_key()
        try:
            received = await self._write(upload, temp_path, max_bytes, chunk_bytes, what)
            yield received
        finally:
            await asyncio.to_thread(temp_path.unlink, missing_ok=True)

    async def _write(self, upload: UploadFile, temp_path: Path, max_bytes: int, chunk_bytes: int, what: str) -> Received:
        digest = hashlib.sha256()
        size = 0
        handle = await asyncio.to_thread(temp_path.open, "wb")
        try:
            while chunk := await upload.read(chunk_bytes):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"The {what} is too large: the limit is {human_size(max_bytes)}.")
                digest.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
        finally:
            await asyncio.to_thread(handle.close)
        if size == 0:
            raise ValidationFailed(f"The {what} is empty.")
        return Received(temp_path=temp_path, size=size, sha256=digest.hexdigest())

    async def keep(self, session: AsyncSession, received: Received, area: Area) -> str:
        """Move a received file into place under a new random key; removed again if ``session`` rolls back."""
        key = new_key()
        final = self.path_for(area, key)
        await asyncio.to_thread(final.parent.mkdir, parents=True, exist_ok=True)
        await asyncio.to_thread(os.replace, received.temp_path, final)
        session.info.setdefault(_STORED_IN_TX, []).append(final)
        return key

    def delete_after_commit(self, session: AsyncSession, area: Area, key: str) -> None:
        session.info.setdefault(_DOOMED_IN_TX, []).append(self.path_for(area, key))


def _after_commit(session: Session) -> None:
    session.info.pop(_STORED_IN_TX, None)
    for path in session.info.pop(_DOOMED_IN_TX, []):
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def _after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
    if previous.parent is not None:  # a savepoint; the outer transaction decides
        return
    session.info.pop(_DOOMED_IN_TX, None)
    for path in session.info.pop(_STORED_IN_TX, []):
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


event.listen(Session, "after_commit", _after_commit)
event.listen(Session, "after_soft_rollback", _after_soft_rollback)


# --- content checks (catalog.content decides; these turn its refusals into answers) -----------


def normalize_image(received: Received) -> str:
    """Decode and re-encode a received image in place; its content type. Blocking: run in a thread.

    Not an image of a supported format: 415; a supported but damaged or oversized image: 422.
    """
    try:
        image = content.normalize_image(received.temp_path)
    except content.ContentRefused as exc:
        if exc.unsupported:
            raise UnsupportedMediaType(str(exc)) from exc
        raise ValidationFailed(str(exc)) from exc
    received.size = image.size
    return image.content_type


ASSET_EXTENSIONS: dict[str, AssetFormat] = {
    ".stl": AssetFormat.STL,
    ".3mf": AssetFormat.THREE_MF,
    ".obj": AssetFormat.OBJ,
    ".zip": AssetFormat.ZIP,
}
ASSET_TYPES = "STL, 3MF, OBJ or ZIP"


def asset_format_for(filename: str) -> AssetFormat:
    """The asset format its file name claims (raises 415 for anything else)."""
    fmt = ASSET_EXTENSIONS.get(Path(filename or "").suffix.lower())
    if fmt is None:
        raise UnsupportedMediaType(
            f"Unsupported file type {Path(filename or '').suffix or '(no extension)'!s}: upload an {ASSET_TYPES} file."
        )
    return fmt


def check_asset_content(path: Path, fmt: AssetFormat, size: int) -> None:
    """Raise 422 unless the file's content is what its extension says (``catalog.content``). Blocking:
    run in a thread."""
    try:
        content.check_asset(path, fmt)
    except content.ContentRefused as exc:
        raise ValidationFailed(f"The file is not a valid {fmt.value} file: {exc}.") from exc
