"""The app's routes as the sweeps walk them: full path, methods, the FastAPI route behind it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts


@dataclass(frozen=True)
class AppRoute:
    path: str
    methods: frozenset[str]
    route: APIRoute
    in_schema: bool

    def int_params(self) -> tuple[list[str], list[str]]:
        """Names of the integer path parameters and integer query parameters."""

        def is_int(field: Any) -> bool:
            return "int" in str(field.field_info.annotation)

        dependant = self.route.dependant
        path = [p.alias for p in _flat(dependant, "path_params") if is_int(p)]
        query = [q.alias for q in _flat(dependant, "query_params") if is_int(q)]
        return path, query


def _flat(dependant: Any, attr: str) -> list[Any]:
    found = list(getattr(dependant, attr))
    for sub in dependant.dependencies:
        found.extend(_flat(sub, attr))
    return found


def app_routes(app: FastAPI) -> Iterator[AppRoute]:
    """Every FastAPI route of ``app`` (API, UI pages, hooks, OAuth), with its mounted path."""
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if isinstance(route, APIRoute):
            yield AppRoute(
                path=str(context.path),
                methods=frozenset(context.methods or ()),
                route=route,
                in_schema=bool(context.include_in_schema),
            )
