"""``GET /api/docs``: the HTTP API's reference, rendered by Swagger UI from ``/openapi.json``.

FastAPI's own docs page loads Swagger UI from a CDN with an inline start script, which the strict
Content-Security-Policy blocks (and many deployments have no internet). This page loads the
copy vendored under ``static/vendor/swagger-ui`` (Apache-2.0, see its README) and starts it from
``static/api-docs.js``, so it works offline under the same policy as every other page.
"""

from __future__ import annotations

from fastapi import Request, Response

from inboxcrm.web.ui.page_routes import page_router
from inboxcrm.web.ui.rendering import templates

router = page_router()

API_DOCS_PATH = "/api/docs"


@router.get(API_DOCS_PATH)
def api_docs(request: Request) -> Response:
    openapi_url = request.app.openapi_url or "/openapi.json"
    response = templates.TemplateResponse(request, "api_docs.html", {"openapi_url": openapi_url})
    response.headers["Cache-Control"] = "no-cache"
    return response
