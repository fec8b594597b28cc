from __future__ import annotations

from pydantic import BaseModel, Field


class DownloadItem(BaseModel):
    line_id: str
    product_id: str
    title: str
    asset_id: str
    filename: str


class DownloadList(BaseModel):
    order_id: str
    items: list[DownloadItem]


class DownloadGrant(BaseModel):
    asset_id: str
    grant: str = Field(description="A short-lived grant for this one asset, signed by orders; the catalog verifies it.")
    catalog_path: str = Field(description="Where the gateway fetches the bytes from the catalog with this grant.")
    expires_in: int
