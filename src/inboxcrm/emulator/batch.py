"""The batch endpoint (``/batch``, ``/batch/gmail/v1``, ...): multipart/mixed of application/http.

Each inner call runs through the same router as a direct call (auth, quota, faults), so inner
calls are charged one by one and fail independently; the batch itself answers 200. Parts run
one after another here but count as concurrent calls of their user (as Google runs them in
parallel) until the batch ends, so a per-user concurrency limit refuses the parts beyond it.
Injected latency adds up part by part, unless ``batch_parts_parallel``: then the batch waits
once, for its slowest part.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import time
from http import HTTPStatus

from inboxcrm.emulator.errors import ApiError
from inboxcrm.emulator.http_core import Request, Response, Router
from inboxcrm.emulator.multipart import boundary_of, split_head_body, split_parts
from inboxcrm.emulator.quota import ConcurrencyMeter

MAX_PARTS = 100
_REQUEST_LINE = re.compile(r"^([A-Z]+)\s+(\S+)(?:\s+HTTP/\d\.\d)?\s*$")


class BatchRoutes:
    def __init__(self, router: Router, concurrency: ConcurrencyMeter) -> None:
        self.router = router
        self.concurrency = concurrency

    def register(self, router: Router) -> None:
        router.add("POST", r"/batch(?:/[^?]*)?", self.batch)

    def batch(self, req: Request, _m: object) -> Response:
        boundary = boundary_of(req.headers.get("content-type", ""))
        if not boundary:
            raise ApiError(
                400, "Batch request must be multipart/mixed with a boundary.", reason="badRequest"
            )
        parts = split_parts(req.body, boundary)
        if not parts:
            raise ApiError(400, "Batch request contains no parts.", reason="badRequest")
        if len(parts) > MAX_PARTS:
            raise ApiError(
                400, f"Too many requests in batch (limit {MAX_PARTS}).", reason="badRequest"
            )
        out_boundary = "batch_" + secrets.token_hex(12)
        chunks: list[bytes] = []
        admitted: dict[str, int] = {}
        delays: list[float] = []
        try:
            for part in parts:
                part_headers, inner = split_head_body(part)
                content_id = next((v for k, v in part_headers if k.lower() == "content-id"), "")
                response = self._run_inner(req, inner, admitted, delays)
                chunks.append(self._serialize(out_boundary, content_id, response))
            if delays:
                time.sleep(max(delays))  # parts waited in parallel (batch_parts_parallel)
        finally:
            # Google runs the parts of a batch in parallel: each admitted part counts
            # against its user's concurrency limit until the whole batch is done.
            for user, count in admitted.items():
                self.concurrency.leave(user, count)
        body = b"".join(chunks) + f"--{out_boundary}--\r\n".encode()
        return Response(200, body, [("Content-Type", f"multipart/mixed; boundary={out_boundary}")])

    def _run_inner(
        self, outer: Request, inner: bytes, admitted: dict[str, int], delays: list[float]
    ) -> Response:
        inner = inner.lstrip(b"\r\n")
        first, _, rest = inner.partition(b"\n")
        match = _REQUEST_LINE.match(first.decode("utf-8", "replace").strip())
        if match is None:
            return Response.from_api_error(
                ApiError(400, "Invalid inner request line.", reason="badRequest")
            )
        method, target = match.group(1), match.group(2)
        if "://" in target:
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        headers: list[tuple[str, str]]
        if rest.startswith(b"\r\n"):
            headers, body = [], rest[2:]
        elif rest.startswith(b"\n"):
            headers, body = [], rest[1:]
        else:
            headers, body = split_head_body(rest)
        header_map = {k.lower(): v for k, v in headers}
        if "authorization" not in header_map and "authorization" in outer.headers:
            header_map["authorization"] = outer.headers["authorization"]
        if "content-length" in header_map:
            with contextlib.suppress(ValueError):
                body = body[: int(header_map["content-length"])]
        else:
            body = body.rstrip(b"\r\n")
        request = Request.build(
            method,
            target,
            header_map,
            body,
            outer.base_url,
            in_batch=True,
            batch_calls=admitted,
            batch_delays=delays,
        )
        response = self.router.dispatch(request)
        if response.drop:
            return Response.from_api_error(
                ApiError(503, "The service is currently unavailable.", reason="backendError")
            )
        return response

    @staticmethod
    def _serialize(boundary: str, content_id: str, response: Response) -> bytes:
        cid = content_id.strip()
        if cid.startswith("<") and cid.endswith(">"):
            cid = cid[1:-1]
        reason = (
            HTTPStatus(response.status).phrase
            if response.status in HTTPStatus._value2member_map_
            else ""
        )
        lines = [
            f"--{boundary}",
            "Content-Type: application/http",
            f"Content-ID: <response-{cid}>",
            "",
            f"HTTP/1.1 {response.status} {reason}",
        ]
        lines += [f"{k}: {v}" for k, v in response.headers]
        lines += [f"Content-Length: {len(response.body)}", "", ""]
        return "\r\n".join(lines).encode() + response.body + b"\r\n"
