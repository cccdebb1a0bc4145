"""The application factory: the JSON API under /api/v1, the UI under /, and error handling."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

import inboxcrm
from inboxcrm.bootstrap import Runtime
from inboxcrm.providers.gmail.oauth import endpoints_for
from inboxcrm.web.health import health_router
from inboxcrm.web.problems import install_problem_handlers
from inboxcrm.web.security_headers import SecurityHeadersMiddleware, hsts_wanted, origin_of
from inboxcrm.web.static_files import STATIC_DIR
from inboxcrm.web.tracking_routes import install_tracking


def create_app(runtime: Runtime) -> FastAPI:
    """Build the ASGI app around an already wired runtime."""
    from inboxcrm.web.api import api_router
    from inboxcrm.web.hooks import hooks_router
    from inboxcrm.web.image_proxy import proxy_router
    from inboxcrm.web.oauth_routes import oauth_router
    from inboxcrm.web.ui import ui_router

    app = FastAPI(
        title="inboxcrm",
        version=inboxcrm.__version__,
        description="Self-hostable multi-tenant CRM built around Gmail. "
        "Authenticate with `Authorization: Bearer <token>` (see `inboxcrm token create`).",
        openapi_url="/openapi.json",
        docs_url=None,  # /api/docs is served by web.ui.api_docs_pages from vendored assets
        redoc_url=None,
    )
    app.state.runtime = runtime
    install_problem_handlers(app)
    consent_origin = origin_of(endpoints_for(runtime.settings).auth_uri)
    app.add_middleware(
        SecurityHeadersMiddleware,
        form_targets=[consent_origin],
        https=hsts_wanted(runtime.settings.public_url),
    )
    install_tracking(app, runtime)  # /t/o/ and /t/c/: in front of every other layer
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(health_router)
    app.include_router(api_router, prefix="/api/v1")
    app.include_router(oauth_router)
    app.include_router(hooks_router)
    app.include_router(proxy_router)
    app.include_router(ui_router)
    return app
