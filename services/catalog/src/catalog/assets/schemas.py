"""Digital asset response bodies (C3): ``AssetSummary`` is what buyers see of a FILE product's files
(never the file itself); ``AssetOut`` adds what the listing's seller manages."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict

from catalog.models import AssetFormat


class AssetSummary(BaseModel):
    """What a buyer gets with a FILE product; never the file itself (downloads are an orders matter, O6)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    original_filename: str
    file_format: AssetFormat
    size_bytes: int


class AssetOut(AssetSummary):
    """A digital file's metadata for its seller; the file itself is never served publicly."""

    sha256: str
    created_at: dt.datetime
