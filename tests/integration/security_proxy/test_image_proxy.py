"""The image proxy against real local servers: a legitimate image loads; SSRF attempts in every
IP notation, through DNS and through redirect chains are refused before anything reaches the
internal service; size, time and content-type caps hold; signatures bind reader and message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from inboxcrm.adapters.image_fetcher import (
    FetchLimits,
    ImageTargetRefused,
    ImageUpstreamError,
    fetch_image,
)
from inboxcrm.bootstrap import Runtime
from inboxcrm.config import Settings
from inboxcrm.domain.roles import Role
from inboxcrm.services.identity import Principal
from inboxcrm.web.image_proxy import image_proxy_path
from tests.fixtures.image_servers import PNG, ImageServers
from tests.fixtures.web import TenantFactory
from tests.integration.ui.ui_session import sign_in, user_id_of

MESSAGE_ID = 7


@dataclass
class Reader:
    client: TestClient
    principal: Principal
    settings: Settings

    def fetch(self, url: str, message_id: int = MESSAGE_ID) -> httpx.Response:
        return self.client.get(image_proxy_path(self.settings, self.principal, message_id, url))


def _principal(user_id: int, email: str, tenant: str = "acme") -> Principal:
    return Principal(
        user_id=user_id,
        email=email,
        display_name="",
        tenant_id=0,
        tenant_slug=tenant,
        role=Role.REP,
        via="session",
    )


@pytest.fixture
def reader(client: TestClient, tenants: TenantFactory, runtime: Runtime) -> Reader:
    rep = tenants.member("acme", "rep")
    sign_in(client, rep)
    return Reader(client, _principal(user_id_of(client, rep), rep.email), runtime.settings)


def _refused(response: httpx.Response, code: str = "image_target_refused") -> bool:
    return (
        response.headers.get("content-type", "").startswith("application/problem+json")
        and response.json().get("code") == code
    )


def test_a_legitimate_image_loads_through_the_proxy_with_strict_headers(
    reader: Reader, image_servers: ImageServers
) -> None:
    response = reader.fetch(image_servers.images.url + "/cat.png")
    assert response.status_code == 200
    assert response.content == PNG
    assert response.headers["content-type"] == "image/png"
    assert response.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cross-origin-resource-policy"] == "same-origin"
    path, headers = image_servers.images.requests[-1]
    assert path == "/cat.png"
    # Nothing of the reader's session travels to the image host.
    assert "cookie" not in headers and "authorization" not in headers
    assert headers["user-agent"].startswith("inboxcrm-image-proxy")
    assert "referer" not in headers


def test_redirects_within_the_allowed_host_are_followed_up_to_the_hop_limit(
    reader: Reader, image_servers: ImageServers
) -> None:
    assert reader.fetch(image_servers.images.url + "/hop/3").content == PNG
    too_many = reader.fetch(image_servers.images.url + "/hop/4")
    assert too_many.status_code == 403 and _refused(too_many)
    loop = reader.fetch(image_servers.images.url + "/loop")
    assert loop.status_code == 403 and _refused(loop)
    assert len([p for p, _ in image_servers.images.requests if p == "/loop"]) == 4


def test_credentials_in_an_image_url_are_refused_even_for_an_allowed_host(
    reader: Reader, image_servers: ImageServers
) -> None:
    host = image_servers.images.endpoint
    for url in (f"http://user:secret@{host}/cat.png", f"http://user@{host}/cat.png"):
        response = reader.fetch(url)
        assert response.status_code == 403 and _refused(response), url
    assert image_servers.images.requests == []


def _internal_notations(port: int) -> list[str]:
    return [
        f"http://127.0.0.1:{port}/",
        f"http://127.1:{port}/",
        f"http://127.0.1:{port}/",
        f"http://2130706433:{port}/",
        f"http://0x7f000001:{port}/",
        f"http://0X7F.0X0.0X0.0X1:{port}/",
        f"http://0x7f.1:{port}/",
        f"http://0177.0.0.1:{port}/",
        f"http://0177.0000.0000.0001:{port}/",
        f"http://017700000001:{port}/",
        f"http://127.000.000.001:{port}/",
        f"http://127.0.0.1.:{port}/",
        f"http://0:{port}/",
        f"http://0.0.0.0:{port}/",
        f"http://localhost:{port}/",
        f"http://LOCALHOST:{port}/",
        f"http://[::1]:{port}/",
        f"http://[::ffff:127.0.0.1]:{port}/",
        f"http://[::ffff:7f00:1]:{port}/",
        f"http://[0:0:0:0:0:ffff:127.0.0.1]:{port}/",
        f"http://[::127.0.0.1]:{port}/",
        f"http://[::]:{port}/",
        f"http://[64:ff9b::127.0.0.1]:{port}/",
        f"http://[2002:7f00:1::]:{port}/",
        f"http://[fe80::1%25lo]:{port}/",
        f"https://127.0.0.1:{port}/",
        f"http://images.example@127.0.0.1:{port}/",
        f"http://127.0.0.1:{port}#@images.example/",
        f"gopher://127.0.0.1:{port}/_INFO",
        f"dict://127.0.0.1:{port}/info",
        f"ftp://127.0.0.1:{port}/",
    ]


OTHER_PRIVATE_TARGETS = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.0.1/",
    "http://100.64.0.1/",
    "http://192.0.0.8/",
    "http://198.18.0.1/",
    "http://224.0.0.1/",
    "http://239.255.255.250:1900/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://[fc00::1]/",
    "http://[ff02::1]/",
    "http://[fec0::1]/",
    "http://[2001:db8::1]/",
    "http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
    "http://1.2.3.999/",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "data:image/png;base64,iVBORw0KGgo=",
]


def test_ssrf_attempts_in_every_notation_are_refused_before_any_request(
    reader: Reader, image_servers: ImageServers
) -> None:
    attempts = [*_internal_notations(image_servers.internal.port), *OTHER_PRIVATE_TARGETS]
    answers = {url: reader.fetch(url) for url in attempts}
    accepted = {url: r.status_code for url, r in answers.items() if not _refused(r)}
    assert accepted == {}
    assert {r.status_code for r in answers.values()} == {403}
    assert image_servers.internal.requests == []
    assert len(attempts) >= 50


def test_redirect_chains_toward_loopback_are_refused_at_the_hop_that_leaves(
    reader: Reader, image_servers: ImageServers
) -> None:
    port = image_servers.internal.port
    targets = [
        f"http://127.0.0.1:{port}/secret",
        f"http://2130706433:{port}/secret",
        f"http://localhost:{port}/secret",
        f"http://[::ffff:127.0.0.1]:{port}/secret",
        f"//127.0.0.1:{port}/secret",
        "http://169.254.169.254/latest/meta-data/",
        f"gopher://127.0.0.1:{port}/_INFO",
    ]
    base = image_servers.images.url
    for target in targets:
        response = reader.fetch(f"{base}/to-internal?target={target}")
        assert response.status_code == 403 and _refused(response), target
    # A longer chain: two allowed hops, then the jump inside.
    chain = f"{base}/to-internal?target={base}/to-internal?target=http://0x7f.1:{port}/secret"
    assert _refused(reader.fetch(chain))
    assert image_servers.internal.requests == []


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/big", 502, "image_too_large"),
        ("/big-chunked", 502, "image_too_large"),
        ("/slow", 504, "image_timeout"),
        ("/svg", 502, "not_an_image"),
        ("/html", 502, "not_an_image"),
        ("/lying.png", 502, "not_an_image"),
        ("/status/404", 502, "image_upstream_error"),
        ("/status/500", 502, "image_upstream_error"),
    ],
)
def test_size_time_and_type_caps(
    reader: Reader, image_servers: ImageServers, path: str, status: int, code: str
) -> None:
    response = reader.fetch(image_servers.images.url + path)
    assert response.status_code == status
    assert _refused(response, code), response.text


def test_a_proxy_url_works_only_for_its_reader_message_and_url_until_it_expires(
    reader: Reader,
    image_servers: ImageServers,
    client: TestClient,
    tenants: TenantFactory,
    runtime: Runtime,
) -> None:
    url = image_servers.images.url + "/cat.png"
    me = reader.principal
    good = image_proxy_path(reader.settings, me, MESSAGE_ID, url)
    assert client.get(good).status_code == 200
    forged = [
        good.replace(f"m={MESSAGE_ID}", f"m={MESSAGE_ID + 1}"),
        good.replace("cat.png", "hop%2F1"),
        good[:-4] + ("0000" if not good.endswith("0000") else "1111"),
        image_proxy_path(reader.settings, _principal(reader.principal.user_id + 1, "x"), 7, url),
        image_proxy_path(
            reader.settings, _principal(reader.principal.user_id, "x", "other"), 7, url
        ),
        image_proxy_path(reader.settings, reader.principal, MESSAGE_ID, url, now=0),
        image_proxy_path(
            reader.settings.model_copy(update={"secret_key": SecretStr("another-secret")}),
            reader.principal,
            MESSAGE_ID,
            url,
        ),
    ]
    for path in forged:
        response = client.get(path)
        assert response.status_code == 403, path
        assert response.json()["code"] == "permission_denied"
    before = len(image_servers.images.requests)
    rep = tenants.member("acme", "manager")
    assert client.get(good, headers=rep.headers).status_code == 401  # API tokens: no
    with TestClient(client.app) as anonymous:
        assert anonymous.get(good).status_code == 401
    assert len(image_servers.images.requests) == before


def test_bad_query_parameters_are_problem_documents(reader: Reader) -> None:
    for query in ("", "?m=1&e=1&u=x&s=zz", "?m=99999999999999999999&e=1&u=x&s=" + "0" * 64):
        response = reader.client.get("/image-proxy" + query)
        assert response.status_code in (400, 422), query
        assert response.headers["content-type"].startswith("application/problem+json")


class _CountingResolver:
    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append((host, port))
        return list(self.answers)


def test_names_are_checked_after_resolution_and_the_checked_address_is_used(
    image_servers: ImageServers,
) -> None:
    port = image_servers.images.port
    limits = FetchLimits(allowed_endpoints=frozenset({("127.0.0.1", port)}), timeout_s=5.0)
    resolver = _CountingResolver(["127.0.0.1"])
    image = fetch_image(f"http://images.test:{port}/cat.png", limits, resolve=resolver)
    assert image.body == PNG and image.content_type == "image/png"
    assert resolver.calls == [("images.test", port)]  # resolved once, then pinned
    assert image_servers.images.requests[-1][1]["host"] == f"images.test:{port}"

    for answers in (["93.184.216.34", "10.0.0.5"], ["::ffff:10.0.0.5"], ["169.254.169.254"]):
        with pytest.raises(ImageTargetRefused):
            fetch_image("http://cdn.test/x.png", limits, resolve=_CountingResolver(answers))
    internal = image_servers.internal.port
    with pytest.raises(ImageTargetRefused):
        fetch_image(
            f"http://images.test:{internal}/", limits, resolve=_CountingResolver(["127.0.0.1"])
        )
    assert image_servers.internal.requests == []


def test_the_test_allowance_is_refused_in_production_and_must_be_ip_port() -> None:
    production: dict[str, Any] = {
        "environment": "production",
        "secret_key": "s" * 40,
        "fernet_keys": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    }
    Settings(**production)
    with pytest.raises(ValueError, match="tests only"):
        Settings(**production, image_proxy_allowed_endpoints="127.0.0.1:8080")
    for bad in ("localhost:80", "10.0.0.0/8", "127.0.0.1", "*:80"):
        with pytest.raises(ValueError, match="ip:port"):
            Settings(image_proxy_allowed_endpoints=bad)


def test_proxy_variables_of_the_environment_are_not_used(
    reader: Reader, image_servers: ImageServers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A forward proxy would resolve and connect by itself, past the address check."""
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, image_servers.internal.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert reader.fetch(image_servers.images.url + "/cat.png").content == PNG
    assert image_servers.internal.requests == []


def _self_signed(directory: Any, name: str) -> tuple[str, str]:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def test_https_keeps_the_name_for_tls_and_verifies_the_certificate(tmp_path: Any) -> None:
    """Connecting to the checked address must not weaken TLS: the server name sent is the
    URL's, and an untrusted certificate fails the fetch."""
    import socket
    import ssl
    import threading

    cert, key = _self_signed(tmp_path, "images.test")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []

    def record_name(_sock: Any, name: str | None, _ctx: Any) -> None:
        names.append(name)

    context.sni_callback = record_name
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(10)
    port = listener.getsockname()[1]

    def serve_one() -> None:
        try:
            conn, _ = listener.accept()
            with conn, context.wrap_socket(conn, server_side=True) as tls:
                tls.recv(4096)  # reached only if the client accepted the certificate
                head = f"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {len(PNG)}"
                tls.sendall(head.encode() + b"\r\nConnection: close\r\n\r\n" + PNG)
        except (OSError, ssl.SSLError):
            pass  # the client rejects our certificate: the handshake fails here too

    server = threading.Thread(target=serve_one, daemon=True)
    server.start()
    limits = FetchLimits(allowed_endpoints=frozenset({("127.0.0.1", port)}), timeout_s=5.0)
    try:
        with pytest.raises(ImageUpstreamError):
            fetch_image(
                f"https://images.test:{port}/cat.png",
                limits,
                resolve=_CountingResolver(["127.0.0.1"]),
            )
    finally:
        server.join(timeout=10)
        listener.close()
    assert names == ["images.test"]
