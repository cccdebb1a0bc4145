"""Steps the browser tests share."""

from __future__ import annotations

from typing import Any

from tests.fixtures.web import Member


def sign_in(page: Any, base_url: str, member: Member) -> None:
    """Sign in through the real login form and wait for the home page."""
    page.goto(base_url + "/login")
    page.fill("input[name=email]", member.email)
    page.fill("input[name=password]", member.password)
    page.click("button[type=submit]")
    page.wait_for_url(base_url + "/")


def errors_in(console: list[str]) -> list[str]:
    """Console errors and uncaught page errors (CSP violations are reported as errors)."""
    return [line for line in console if line.startswith(("error:", "pageerror:"))]


def csp_errors_in(console: list[str]) -> list[str]:
    """Content-Security-Policy violations and uncaught script errors only."""
    return [
        line
        for line in errors_in(console)
        if line.startswith("pageerror:") or "Content Security Policy" in line
    ]
