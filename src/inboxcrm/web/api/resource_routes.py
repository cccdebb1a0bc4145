"""The item routes every JSON resource shares: create, get, update (PATCH) and delete.

:func:`add_item_routes` adds, for a resource named ``lead`` on a router with prefix ``/leads``:

    POST   /leads       201, the new item        (operation ``create_lead``)
    GET    /leads/{id}  200, the item            (operation ``get_lead``)
    PATCH  /leads/{id}  200, the changed item    (operation ``update_lead``)
    DELETE /leads/{id}  204, no body             (operation ``delete_lead``)

Reads need a signed-in member, writes a member who may write. Each resource module keeps its
own list route (its filters are its own) and its response model.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel

from inboxcrm.adapters.db.unit_of_work import UnitOfWork
from inboxcrm.services.identity import Principal
from inboxcrm.web.api.params import ResourceId
from inboxcrm.web.deps import CurrentPrincipal, TenantUow, WriterPrincipal

__all__ = ["add_item_routes"]


def add_item_routes(
    router: APIRouter,
    name: str,
    out_model: type[BaseModel],
    *,
    create_model: type[BaseModel],
    patch_model: type[BaseModel],
    create: Callable[[UnitOfWork, Principal, Any], object],
    get: Callable[[UnitOfWork, int], object],
    update: Callable[[UnitOfWork, Principal, int, Any], object],
    delete: Callable[[UnitOfWork, Principal, int], None],
) -> None:
    """Add the four item routes of resource ``name`` to ``router``, served by these services."""

    def create_item(principal: WriterPrincipal, uow: TenantUow, body: BaseModel) -> BaseModel:
        return out_model.model_validate(create(uow, principal, body))

    def get_item(_principal: CurrentPrincipal, uow: TenantUow, item_id: ResourceId) -> BaseModel:
        return out_model.model_validate(get(uow, item_id))

    def update_item(
        principal: WriterPrincipal, uow: TenantUow, item_id: ResourceId, body: BaseModel
    ) -> BaseModel:
        return out_model.model_validate(update(uow, principal, item_id, body))

    def delete_item(principal: WriterPrincipal, uow: TenantUow, item_id: ResourceId) -> Response:
        delete(uow, principal, item_id)
        return Response(status_code=204)

    # The request body's model is only known here: FastAPI reads it from the annotation.
    create_item.__annotations__["body"] = create_model
    update_item.__annotations__["body"] = patch_model

    router.add_api_route(
        "",
        create_item,
        methods=["POST"],
        status_code=201,
        response_model=out_model,
        name=f"create_{name}",
    )
    router.add_api_route(
        "/{id}", get_item, methods=["GET"], response_model=out_model, name=f"get_{name}"
    )
    router.add_api_route(
        "/{id}", update_item, methods=["PATCH"], response_model=out_model, name=f"update_{name}"
    )
    router.add_api_route(
        "/{id}",
        delete_item,
        methods=["DELETE"],
        status_code=204,
        response_class=Response,
        name=f"delete_{name}",
    )
