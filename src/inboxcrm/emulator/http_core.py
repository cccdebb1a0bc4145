"""Transport-neutral request/response objects and the route table.

The server (``server.py``) and the batch endpoint (``batch.py``) both build :class:`Request`
objects and hand them to :meth:`Router.dispatch`, so an inner batch call runs exactly the same
code path as a direct call.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from inboxcrm.emulator.errors import ApiError, OAuthError


@dataclass
class Request:
    """One HTTP request as the handlers see it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    base_url: str
    in_batch: bool = False
    batch_calls: dict[str, int] | None = None
    """Inner calls of the enclosing batch admitted per user (they run "in parallel")."""
    batch_delays: list[float] | None = None
    """Injected delays of the enclosing batch's parts, waited once by the batch (its slowest
    part) where the parts run in parallel."""

    @classmethod
    def build(
        cls,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes,
        base_url: str,
        *,
        in_batch: bool = False,
        batch_calls: dict[str, int] | None = None,
        batch_delays: list[float] | None = None,
    ) -> Request:
        path, _, query = target.partition("?")
        return cls(
            method=method.upper(),
            path=path,
            query=parse_qs(query, keep_blank_values=True),
            headers={k.lower(): v for k, v in headers.items()},
            body=body,
            base_url=base_url,
            in_batch=in_batch,
            batch_calls=batch_calls,
            batch_delays=batch_delays,
        )

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def params(self, name: str) -> list[str]:
        return list(self.query.get(name, []))

    def int_param(
        self, name: str, default: int, *, minimum: int = 0, maximum: int = 1 << 62
    ) -> int:
        raw = self.param(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise ApiError(400, f"Invalid value '{raw}' for {name}", reason="invalid") from None
        if value < minimum or value > maximum:
            raise ApiError(400, f"Invalid value '{raw}' for {name}", reason="invalid")
        return value

    def bool_param(self, name: str, default: bool = False) -> bool:
        raw = self.param(name)
        if raw is None:
            return default
        return raw.lower() in ("true", "1", "yes")

    def json(self) -> Any:
        if not self.body:
            return {}
        try:
            return json.loads(self.body)
        except ValueError:
            raise ApiError(400, "Invalid JSON payload received.", reason="parseError") from None

    def json_object(self) -> dict[str, Any]:
        data = self.json()
        if not isinstance(data, dict):
            raise ApiError(400, "Invalid JSON payload received.", reason="parseError")
        return data

    def form(self) -> dict[str, str]:
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[-1] for k, v in parsed.items()}


@dataclass
class Response:
    """An answer; ``drop`` closes the connection without writing anything (fault injection)."""

    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Response:
        body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
        return cls(status, body, [("Content-Type", "application/json; charset=UTF-8")])

    @classmethod
    def empty(cls, status: int = 204) -> Response:
        return cls(status, b"", [])

    @classmethod
    def html(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode(), [("Content-Type", "text/html; charset=utf-8")])

    @classmethod
    def redirect(cls, location: str) -> Response:
        return cls(302, b"", [("Location", location)])

    @classmethod
    def from_api_error(cls, err: ApiError) -> Response:
        response = cls.json(err.body(), err.code)
        response.headers.extend(err.headers)
        return response

    @classmethod
    def from_oauth_error(cls, err: OAuthError) -> Response:
        return cls.json({"error": err.error, "error_description": err.description}, err.code)

    def json_body(self) -> Any:
        return json.loads(self.body) if self.body else None


Handler = Callable[[Request, "re.Match[str]"], Response]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


class Router:
    """Ordered list of (HTTP method, path regex) → handler."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, path_regex: str, handler: Handler) -> None:
        self._routes.append(Route(method.upper(), re.compile(path_regex + r"\Z"), handler))

    def dispatch(self, request: Request) -> Response:
        path_matched = False
        for route in self._routes:
            match = route.pattern.match(request.path)
            if match is None:
                continue
            path_matched = True
            if route.method != request.method:
                continue
            try:
                return route.handler(request, match)
            except ApiError as err:
                return Response.from_api_error(err)
            except OAuthError as err:
                return Response.from_oauth_error(err)
        if path_matched:
            return Response.from_api_error(
                ApiError(405, "Method not allowed.", reason="methodNotAllowed")
            )
        return Response.from_api_error(
            ApiError(404, f"The requested URL {request.path} was not found.", reason="notFound")
        )
