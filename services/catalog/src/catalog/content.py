"""Content checks of uploads: decode, parse, never trust a signature (C3).

- Images are decoded with Pillow (format PNG, JPEG, GIF or WebP, at most ``MAX_IMAGE_PIXELS``) and
  re-encoded, so what is stored and served is exactly the decoded picture: no trailing HTML or
  script after the image data, no metadata (location, camera) the seller did not mean to publish.
- STL and OBJ files are parsed as meshes (trimesh): at least one triangle, finite coordinates, face
  indices inside the vertex list. 3MF: the package's ``3D/3dmodel.model`` XML is parsed for
  vertices and triangles.
- ZIP archives (and 3MF packages) are checked entry by entry without extracting anything to disk:
  safe relative names (no absolute paths, ``..``, drive letters, backslashes or control
  characters), no symbolic links, a bounded entry count, each entry's expansion ratio and the total
  expanded size bounded — and each entry is decompressed in memory, chunk by chunk, to verify its
  declared size and CRC, stopping as soon as a limit is passed.

Every function here is blocking (run it in a thread) and raises ``ContentRefused`` with a message
a seller can act on.
"""

from __future__ import annotations

import math
import os
import stat
import warnings
import xml.etree.ElementTree as ElementTree
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

import numpy as np
import trimesh
from PIL import Image, UnidentifiedImageError

from catalog.models import AssetFormat

# --- images ------------------------------------------------------------------------------------

MAX_IMAGE_PIXELS = 40_000_000  # 40 megapixels: more than any product photo needs
IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
IMAGE_TYPES = "PNG, JPEG, WebP or GIF"
JPEG_QUALITY = 92


class ContentRefused(ValueError):
    """The upload is not what it claims to be; ``unsupported`` means not a supported type at all (415)."""

    def __init__(self, message: str, *, unsupported: bool = False) -> None:
        super().__init__(message)
        self.unsupported = unsupported


@dataclass(frozen=True)
class NormalizedImage:
    content_type: str
    size: int
    width: int
    height: int


def normalize_image(path: Path) -> NormalizedImage:
    """Decode the image at ``path`` and replace it by its re-encoding in the same format."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                fmt = image.format or ""
                if fmt not in IMAGE_FORMATS:
                    raise ContentRefused(f"Unsupported image format {fmt or 'unknown'}: upload a {IMAGE_TYPES} image.", unsupported=True)
                if image.width * image.height > MAX_IMAGE_PIXELS:
                    raise ContentRefused(
                        f"The image is {image.width}x{image.height} pixels; the limit is {MAX_IMAGE_PIXELS // 1_000_000} megapixels."
                    )
                frames = getattr(image, "n_frames", 1)
                image.load()
                temp = path.with_name(path.name + ".encoded")
                _encode(image, fmt, frames, temp)
    except ContentRefused:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ContentRefused(
            f"Not a readable {IMAGE_TYPES} image (the file's content is checked, not its name).", unsupported=True
        ) from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # Pillow's damaged-data errors
        raise ContentRefused(f"The image is damaged and cannot be decoded ({exc}).") from exc
    os.replace(temp, path)
    return NormalizedImage(IMAGE_FORMATS[fmt], path.stat().st_size, image.width, image.height)


def _encode(image: Image.Image, fmt: str, frames: int, target: Path) -> None:
    options: dict[str, object] = {}
    if fmt == "JPEG":
        image = image if image.mode in ("RGB", "L", "CMYK") else image.convert("RGB")
        options = {"quality": JPEG_QUALITY}
    elif fmt in ("GIF", "WEBP") and frames > 1:
        options = {"save_all": True}
        if fmt == "WEBP":
            options["lossless"] = True
    elif fmt == "WEBP":
        options = {"lossless": True}
    image.save(target, format=fmt, **options)


# --- digital files --------------------------------------------------------------------------------

MAX_ZIP_ENTRIES = 10_000
MAX_ZIP_RATIO = 200  # an entry may expand to at most 200x its compressed size
MAX_ZIP_TOTAL_BYTES = 2 * 1024**3  # everything in an archive, expanded: 2 GB
ZIP_MAGIC = b"PK\x03\x04"
THREE_MF_MODEL = "3d/3dmodel.model"
_CHUNK = 1024 * 1024


def check_asset(path: Path, fmt: AssetFormat) -> None:
    """Raise ``ContentRefused`` unless the file at ``path`` is a sound file of format ``fmt``."""
    if fmt is AssetFormat.STL:
        _check_stl_layout(path)
        _check_mesh(path, "stl")
    elif fmt is AssetFormat.OBJ:
        _check_mesh(path, "obj")
    elif fmt is AssetFormat.ZIP:
        _check_zip(path)
    else:
        _check_3mf(path)


STL_HEADER = 80
STL_TRIANGLE = 50


def _check_stl_layout(path: Path) -> None:
    """A binary STL's triangle count must match its size exactly; anything else must be ASCII ('solid')."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        header = handle.read(STL_HEADER + 4)
    if len(header) == STL_HEADER + 4:
        triangles = int.from_bytes(header[STL_HEADER:], "little")
        if triangles > 0 and size == STL_HEADER + 4 + STL_TRIANGLE * triangles:
            return
    if not header.lstrip().startswith(b"solid"):
        raise ContentRefused(
            "neither a binary STL (header, triangle count and size agree) nor an ASCII STL ('solid' ... 'endsolid')"
        )


def _check_mesh(path: Path, file_type: str) -> None:
    try:
        with path.open("rb") as handle:
            mesh = trimesh.load(handle, file_type=file_type, force="mesh", process=False)
    except Exception as exc:  # trimesh raises whatever its parsers raise on malformed input
        raise ContentRefused(f"it cannot be read as a mesh ({type(exc).__name__})") from exc
    faces = np.asarray(getattr(mesh, "faces", ()))
    vertices = np.asarray(getattr(mesh, "vertices", ()))
    if faces.size == 0 or vertices.size == 0:
        raise ContentRefused("it contains no triangles")
    if not np.isfinite(vertices).all():
        raise ContentRefused("it has coordinates that are not finite numbers")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise ContentRefused("a face refers to a vertex that does not exist")


def _safe_entry_name(name: str) -> bool:
    if not name or "\\" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        return False
    pure = PurePosixPath(name)
    return not (pure.is_absolute() or ".." in pure.parts or (len(name) > 1 and name[1] == ":"))


def _open_zip(path: Path) -> zipfile.ZipFile:
    with path.open("rb") as handle:
        if handle.read(4) != ZIP_MAGIC:
            raise ContentRefused("it does not start with the zip signature")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ContentRefused(f"the archive is damaged ({exc})") from exc


def _check_entries(archive: zipfile.ZipFile) -> list[zipfile.ZipInfo]:
    entries = archive.infolist()
    if not entries:
        raise ContentRefused("the archive is empty")
    if len(entries) > MAX_ZIP_ENTRIES:
        raise ContentRefused(f"the archive has {len(entries)} entries; the limit is {MAX_ZIP_ENTRIES}")
    total = 0
    for entry in entries:
        if not _safe_entry_name(entry.filename):
            raise ContentRefused(f"the entry name {entry.filename!r} is not a safe relative path")
        if stat.S_ISLNK(entry.external_attr >> 16):
            raise ContentRefused(f"the entry {entry.filename!r} is a symbolic link")
        if entry.file_size > max(entry.compress_size, 1) * MAX_ZIP_RATIO:
            raise ContentRefused(f"the entry {entry.filename!r} expands more than {MAX_ZIP_RATIO} times (a zip bomb?)")
        total += entry.file_size
        if total > MAX_ZIP_TOTAL_BYTES:
            raise ContentRefused(f"the archive expands to more than {MAX_ZIP_TOTAL_BYTES // 1024**3} GB")
    for entry in entries:
        _verify_entry(archive, entry)
    return entries


def _verify_entry(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> None:
    """Decompress in memory, chunk by chunk: the real size must be the declared one, the CRC must match."""
    if entry.is_dir():
        return
    seen = 0
    try:
        with archive.open(entry) as stream:
            while chunk := stream.read(_CHUNK):
                seen += len(chunk)
                if seen > entry.file_size:
                    raise ContentRefused(f"the entry {entry.filename!r} is larger than the archive declares")
    except ContentRefused:
        raise
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError, EOFError) as exc:
        raise ContentRefused(f"the entry {entry.filename!r} cannot be read ({exc})") from exc
    if seen != entry.file_size:
        raise ContentRefused(f"the entry {entry.filename!r} is shorter than the archive declares")


def _check_zip(path: Path) -> None:
    with _open_zip(path) as archive:
        _check_entries(archive)


def _check_3mf(path: Path) -> None:
    with _open_zip(path) as archive:
        entries = _check_entries(archive)
        model = next((e for e in entries if e.filename.lower().lstrip("/") == THREE_MF_MODEL), None)
        if model is None:
            raise ContentRefused("the package has no 3D/3dmodel.model part")
        with archive.open(model) as stream:
            _check_3mf_model(stream)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _check_3mf_model(stream: IO[bytes]) -> None:
    """At least one mesh with a triangle; triangle vertex indices inside that mesh's vertex list."""
    vertices = triangles = 0
    meshes_with_triangles = 0
    try:
        for event, element in ElementTree.iterparse(stream, events=("start", "end")):
            name = _local(element.tag)
            if event == "start":
                if name == "mesh":
                    vertices = triangles = 0
                continue
            if name == "vertex":
                coords = [float(element.get(axis, "nan")) for axis in ("x", "y", "z")]
                if not all(math.isfinite(c) for c in coords):
                    raise ContentRefused("a vertex has coordinates that are not finite numbers")
                vertices += 1
            elif name == "triangle":
                indices = [int(element.get(key, "-1")) for key in ("v1", "v2", "v3")]
                if min(indices) < 0 or max(indices) >= vertices:
                    raise ContentRefused("a triangle refers to a vertex that does not exist")
                triangles += 1
            elif name == "mesh" and triangles:
                meshes_with_triangles += 1
            element.clear()
    except ContentRefused:
        raise
    except (ElementTree.ParseError, ValueError) as exc:
        raise ContentRefused(f"its 3D model is not readable XML ({exc})") from exc
    if not meshes_with_triangles:
        raise ContentRefused("its 3D model contains no triangles")
