from __future__ import annotations

from pydantic import BaseModel

from orders.placing.schemas import OrderOut

PAGE_SIZE = 20


class OrderPage(BaseModel):
    items: list[OrderOut]
    page: int
    page_size: int = PAGE_SIZE
    total: int
