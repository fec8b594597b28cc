"""Public read endpoints: home, browse/search, categories, product pages. Anonymous; no identity needed.

The list endpoints (home, browse, search, category pages) are answered from the search projection's
snapshot (``catalog.search``: products, category tree and the results computed over them). Their
route class keeps each 200 response's JSON bytes with the snapshot it was computed from, under its
path and query string: the same request over the same snapshot is answered with those bytes, with
no parameter parsing, dependency or serialization. The next index commit starts an empty cache, so
a cached answer is never older than the index (docs/decisions/0111). Endpoints return their model
serialized by pydantic (``response_model`` documents it in the OpenAPI); the model is built from
trusted data, so FastAPI's second validation of it is skipped.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel

from catalog.browse import domain
from catalog.browse.domain import PageWindow, Sort, SortNeedsQuery
from catalog.browse.repository import BrowseRepository
from catalog.browse.schemas import BrowseResult, CategoryPage, HomeBuckets, ProductDetail
from catalog.browse.service import BrowseService, Refinements
from catalog.models import CatalogType
from catalog.search.projection import SearchProjection
from catalog.search.service import SearchReader
from homecraft_shared.dependencies import DbSession, resource
from homecraft_shared.errors import invalid_field
from homecraft_shared.inputs import IdParam, QueryText
from homecraft_shared.openapi import problems


class SnapshotCachedRoute(APIRoute):
    """A list endpoint whose 200 answers are kept with the index snapshot they were read from."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def cached(request: Request) -> Response:
            snapshot = request.app.state.runtime.resources.get(SearchProjection).index.snapshot()
            key = (request.scope["path"], request.scope["query_string"])
            body = snapshot.cached_response(key)
            if body is not None:
                return Response(body, media_type="application/json")
            request.state.search_snapshot = snapshot  # the endpoint reads the same snapshot
            response = await handler(request)
            if response.status_code == 200:
                snapshot.keep_response(key, bytes(response.body))
            return response

        return cached


def _json(model: BaseModel) -> Response:
    return Response(model.model_dump_json(), media_type="application/json")


router = APIRouter(tags=["browse"])
lists = APIRouter(tags=["browse"], route_class=SnapshotCachedRoute)

PageQ = Annotated[int, Query(ge=1, le=domain.MAX_PAGE, description="1-based page number")]
PageSizeQ = Annotated[int, Query(ge=1, le=domain.MAX_PAGE_SIZE, description="cards per page")]
SearchQ = Annotated[
    QueryText | None,
    Query(max_length=domain.MAX_QUERY_LENGTH, description="full-text search over title, short and long description"),
]
SortQ = Annotated[
    Sort | None,
    Query(
        description="new | trending | top | relevance (default: relevance with q, else new). "
        "relevance needs a search query: sort=relevance without q is a 422."
    ),
]
CategorySort = Literal["new", "trending", "top"]


async def _lists(request: Request) -> BrowseService:
    # The snapshot the route class took (one consistent state of the index for the whole request).
    return BrowseService(None, SearchReader(request.state.search_snapshot))


async def _pages(
    session: DbSession, search: Annotated[SearchProjection, Depends(resource(SearchProjection))],
) -> BrowseService:
    # The search projection (catalog.search) is one per process, a resource of the runtime (catalog.app).
    return BrowseService(BrowseRepository(session), SearchReader(search.index.snapshot()))


async def _refinements(
    category: Annotated[int | None, Query(ge=1, le=domain.MAX_ID, description="only this category")] = None,
    free: Annotated[bool | None, Query(description="only free (true) or only paid (false) products")] = None,
    can_buy: Annotated[bool | None, Query(description="only products that can be bought now (C10)")] = None,
    min_price: Annotated[int | None, Query(ge=0, le=domain.MAX_PRICE_CENTS, description="lowest price, cents")] = None,
    max_price: Annotated[int | None, Query(ge=0, le=domain.MAX_PRICE_CENTS, description="highest price, cents")] = None,
    facets: Annotated[bool, Query(description="also count the matches per category and kind")] = False,
) -> Refinements:
    return Refinements(category_id=category, is_free=free, can_buy=can_buy, price_min_cents=min_price,
                       price_max_cents=max_price, facets=facets)


Refine = Annotated[Refinements, Depends(_refinements)]


Service = Annotated[BrowseService, Depends(_lists)]
PageService = Annotated[BrowseService, Depends(_pages)]


async def _browse(
    service: BrowseService, kind: CatalogType | None, q: str | None, sort: Sort | None, page: int, page_size: int,
    refine: Refinements,
) -> Response:
    try:
        return _json(await service.browse(kind=kind, q=q, sort=sort, window=PageWindow(page, page_size), refine=refine))
    except SortNeedsQuery as exc:
        raise invalid_field("query.sort", str(exc)) from exc


@lists.get("/home", response_model=HomeBuckets, summary="Home page buckets: featured, new, trending, misc (C6)")
async def home(service: Service) -> Response:
    return _json(await service.home())


@lists.get("/browse", response_model=BrowseResult, summary="Browse and search every visible product (C5)")
async def browse_all(
    service: Service,
    q: SearchQ = None,
    sort: SortQ = None,
    kind: Annotated[CatalogType | None, Query(description="MODEL or FILE")] = None,
    page: PageQ = 1,
    page_size: PageSizeQ = domain.DEFAULT_PAGE_SIZE,
    refine: Refine = Refinements(),
) -> Response:
    return await _browse(service, kind, q, sort, page, page_size, refine)


@lists.get("/browse/models", response_model=BrowseResult, summary="Browse and search printed models (C5)")
async def browse_models(
    service: Service, q: SearchQ = None, sort: SortQ = None, page: PageQ = 1,
    page_size: PageSizeQ = domain.DEFAULT_PAGE_SIZE, refine: Refine = Refinements(),
) -> Response:
    return await _browse(service, CatalogType.MODEL, q, sort, page, page_size, refine)


@lists.get("/browse/files", response_model=BrowseResult, summary="Browse and search 3D files (C5)")
async def browse_files(
    service: Service, q: SearchQ = None, sort: SortQ = None, page: PageQ = 1,
    page_size: PageSizeQ = domain.DEFAULT_PAGE_SIZE, refine: Refine = Refinements(),
) -> Response:
    return await _browse(service, CatalogType.FILE, q, sort, page, page_size, refine)


@lists.get(
    "/browse/categories/{category_id}", response_model=CategoryPage, responses=problems(404),
    summary="Category page: its products and its direct children's, with child chips (C8)",
)
async def category_page(
    service: Service,
    category_id: IdParam,
    sort: Annotated[CategorySort, Query(description="new | trending | top")] = "new",
    page: PageQ = 1,
    page_size: PageSizeQ = domain.DEFAULT_PAGE_SIZE,
) -> Response:
    return _json(await service.category_page(category_id, sort=Sort(sort), window=PageWindow(page, page_size)))


@router.get(
    "/browse/products/{product_id}", response_model=ProductDetail, responses=problems(404),
    summary="Product page data: images, ratings, license or specs, more like this, can_buy (C9, C10)",
)
async def product_page(service: PageService, product_id: uuid.UUID) -> Response:
    return _json(await service.product_page(product_id))


router.include_router(lists)
