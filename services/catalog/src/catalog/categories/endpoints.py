"""Category endpoints: a public list of both trees; owner-only create and update (C1)."""

from __future__ import annotations

from fastapi import APIRouter, Query, status

from catalog.categories import service
from catalog.categories.schemas import CategoryCreate, CategoryOut, CategoryTrees, CategoryUpdate
from homecraft_shared.dependencies import DbSession, OptionalIdentity, OwnerIdentity
from homecraft_shared.errors import Forbidden
from homecraft_shared.inputs import IdParam
from homecraft_shared.openapi import problems

router = APIRouter(prefix="/categories", tags=["categories"], responses=problems(403))


@router.get("", summary="Both category trees (3D Models, 3D Files) with their active subcategories")
async def list_categories(
    session: DbSession,
    identity: OptionalIdentity,
    include_inactive: bool = Query(False, description="Owners only: include inactive categories."),
) -> CategoryTrees:
    if include_inactive and (identity is None or not identity.is_owner):
        raise Forbidden("Only marketplace owners may list inactive categories.")
    return await service.category_trees(session, include_inactive=include_inactive)


@router.post(
    "", status_code=status.HTTP_201_CREATED, summary="Create a root category or a subcategory (owners)",
    responses=problems(404, 409),
)
async def create_category(body: CategoryCreate, session: DbSession, _: OwnerIdentity) -> CategoryOut:
    return CategoryOut.model_validate(await service.create_category(session, body))


@router.patch(
    "/{category_id}", summary="Rename, re-slug, (de)activate or reorder a category (owners)", responses=problems(404, 409)
)
async def update_category(category_id: IdParam, body: CategoryUpdate, session: DbSession, _: OwnerIdentity) -> CategoryOut:
    return CategoryOut.model_validate(await service.update_category(session, category_id, body))
