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
import struct
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fastapi import UploadFile
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from catalog.models import AssetFormat
from homecraft_shared.errors import Problem, ValidationFailed

Area = Literal["images", "assets"]
KEY_PATTERN = re.compile(r"[0-9a-f]{32}")
HEAD_BYTES = 64

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
    head: bytes


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
        head = b""
        handle = await asyncio.to_thread(temp_path.open, "wb")
        try:
            while chunk := await upload.read(chunk_bytes):
                size += len(chunk)
                if size > max_bytes:
                    raise PayloadTooLarge(f"The {what} is too large: the limit is {human_size(max_bytes)}.")
                if len(head) < HEAD_BYTES:
                    head += chunk[: HEAD_BYTES - len(head)]
                digest.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
        finally:
            await asyncio.to_thread(handle.close)
        if size == 0:
            raise ValidationFailed(f"The {what} is empty.")
        return Received(temp_path=temp_path, size=size, sha256=digest.hexdigest(), head=head)

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


# --- content checks ---------------------------------------------------------------------------

IMAGE_TYPES = "PNG, JPEG, WebP or GIF"


def sniff_image(head: bytes) -> str | None:
    """The image's content type from its first bytes (magic numbers), or None if not a supported image."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


ASSET_EXTENSIONS: dict[str, AssetFormat] = {
    ".stl": AssetFormat.STL,
    ".3mf": AssetFormat.THREE_MF,
    ".obj": AssetFormat.OBJ,
    ".zip": AssetFormat.ZIP,
}
ASSET_TYPES = "STL, 3MF, OBJ or ZIP"
ZIP_MAGIC = b"PK\x03\x04"
THREE_MF_MODEL = "3d/3dmodel.model"
STL_HEADER = 80
STL_TRIANGLE = 50


def asset_format_for(filename: str) -> AssetFormat:
    """The asset format its file name claims (raises 415 for anything else)."""
    fmt = ASSET_EXTENSIONS.get(Path(filename or "").suffix.lower())
    if fmt is None:
        raise UnsupportedMediaType(
            f"Unsupported file type {Path(filename or '').suffix or '(no extension)'!s}: upload an {ASSET_TYPES} file."
        )
    return fmt


def check_asset_content(path: Path, fmt: AssetFormat, size: int) -> None:
    """Raise 422 unless the file's content is what its extension says. Blocking: run in a thread.

    Reads only headers, the zip central directory, or (OBJ) lines until a vertex and a face were seen.
    """
    checks = {
        AssetFormat.STL: _is_stl,
        AssetFormat.THREE_MF: _is_3mf,
        AssetFormat.ZIP: _is_zip,
        AssetFormat.OBJ: _is_obj,
    }
    problem = checks[fmt](path, size)
    if problem:
        raise ValidationFailed(f"The file is not a valid {fmt.value} file: {problem}.")


def _is_stl(path: Path, size: int) -> str | None:
    with path.open("rb") as handle:
        header = handle.read(STL_HEADER + 4)
        if len(header) == STL_HEADER + 4:
            (triangles,) = struct.unpack("<I", header[STL_HEADER:])
            if triangles > 0 and size == STL_HEADER + 4 + STL_TRIANGLE * triangles:
                return None  # binary STL: the triangle count matches the size exactly
        if header.lstrip().startswith(b"solid"):
            handle.seek(max(0, size - 1024))
            tail = handle.read()
            if b"endsolid" in tail and b"\0" not in tail:
                return None  # ASCII STL
            return "an ASCII STL must end with 'endsolid'"
    return "neither a binary STL (header, triangle count and size agree) nor an ASCII STL ('solid' ... 'endsolid')"


def _zip_names(path: Path) -> list[str] | str:
    with path.open("rb") as handle:
        if handle.read(4) != ZIP_MAGIC:
            return "it does not start with the zip signature"
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        return f"the archive is damaged ({exc})"


def _is_zip(path: Path, _size: int) -> str | None:
    names = _zip_names(path)
    if isinstance(names, str):
        return names
    return None if names else "the archive is empty"


def _is_3mf(path: Path, _size: int) -> str | None:
    names = _zip_names(path)
    if isinstance(names, str):
        return names
    if not any(name.lower().lstrip("/") == THREE_MF_MODEL for name in names):
        return "the package has no 3D/3dmodel.model part"
    return None


def _is_obj(path: Path, _size: int) -> str | None:
    seen_vertex = seen_face = False
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            if b"\0" in line:
                return f"binary data on line {number}; OBJ files are text"
            stripped = line.lstrip()
            if stripped.startswith((b"v ", b"v\t")):
                seen_vertex = True
            elif stripped.startswith((b"f ", b"f\t")):
                seen_face = True
            if seen_vertex and seen_face:
                return None
    return "an OBJ file needs vertex ('v') and face ('f') lines"
