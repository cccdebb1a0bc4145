"""Image proxy tests: the app with a local image host allowed by its exact ``ip:port``.

The image host lives on loopback like everything here, and the proxy refuses loopback; the
``INBOXCRM_IMAGE_PROXY_ALLOWED_ENDPOINTS`` setting names exactly that one endpoint, nothing
else (the internal server next to it stays refused). Small caps keep the size and time tests
short. One SQLite run per test: these test the proxy, not the database backends.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from inboxcrm.config import Settings
from tests.fixtures.image_servers import ImageServers, serve_images

MAX_BYTES = 200_000
TIMEOUT_S = 1.5


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def image_servers() -> Iterator[ImageServers]:
    with serve_images() as servers:
        yield servers


@pytest.fixture
def settings(settings: Settings, image_servers: ImageServers) -> Settings:
    return settings.model_copy(
        update={
            "image_proxy_allowed_endpoints": image_servers.images.endpoint,
            "image_proxy_max_bytes": MAX_BYTES,
            "image_proxy_timeout_seconds": TIMEOUT_S,
            "image_proxy_max_redirects": 3,
        }
    )
