"""A7: the headers every response carries, HTTPS-only behaviour behind the proxy, and a Content
Security Policy that no template breaks (no inline script, no inline event handlers)."""

import re
from pathlib import Path

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db
TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def directives(header: str) -> dict[str, list[str]]:
    parts = (p.split() for p in header.split(";") if p.strip())
    return {name: values for name, *values in parts}


@pytest.mark.parametrize("path", ["/", "/driver/login/", "/admin/login/", "/api/docs/"])
def test_pages_carry_the_security_headers(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    policy = directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["base-uri"] == ["'self'"]


def test_the_api_docs_page_loads_its_script_from_a_url():
    html = Client().get("/api/docs/").content.decode()
    scripts = re.findall(r"<script\b([^>]*)>", html)
    assert scripts
    assert all("src=" in attrs for attrs in scripts)


def test_no_template_has_inline_script_or_event_handlers():
    """What the Content-Security-Policy would block: keep behaviour in static/js/."""
    offenders = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        for attrs in re.findall(r"<script\b([^>]*)>", text, re.I):
            if "src=" not in attrs and "application/json" not in attrs:
                offenders.append(f"{path}: inline <script{attrs}>")
        offenders += [f"{path}: {m}" for m in re.findall(r"<[^>]*\son[a-z]+\s*=", text)]
        offenders += [f"{path}: javascript: URL" for _ in re.findall(r"javascript:", text, re.I)]
    assert offenders == []


def test_behind_the_proxy_http_is_redirected_and_https_gets_hsts(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_HSTS_PRELOAD = True
    client = Client()  # reads the settings above when it builds its middleware

    plain = client.get("/driver/login/")
    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/driver/login/"

    proxied = client.get("/driver/login/", headers={"X-Forwarded-Proto": "https"})
    assert proxied.status_code == 200
    assert proxied["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"

    probe = client.get("/healthz")  # load balancers probe the backend over http
    assert probe.status_code == 200


def test_session_and_csrf_cookies_are_secure_and_http_only(client, django_user_model):
    page = client.get("/driver/login/")
    csrf = page.cookies["csrftoken"]
    assert csrf["httponly"]
    assert csrf["secure"]  # PostgreSQL, DEBUG off: not the embedded demo
    assert csrf["samesite"] == "Lax"
    django_user_model.objects.create_user("cookie-check", password="pw-for-tests-1")
    client.post(
        "/driver/login/", {"username": "cookie-check", "password": "pw-for-tests-1"}, follow=False
    )
    session = client.cookies["sessionid"]
    assert session["httponly"]
    assert session["secure"]
