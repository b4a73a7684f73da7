"""A7: every form that posts carries {% csrf_token %}, and pages refuse a post without it."""

import re
from pathlib import Path

import pytest
from django.test import Client

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
FORM = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
POST = re.compile(r"method\s*=\s*[\"']?post", re.I)


def post_forms() -> list[tuple[str, str]]:
    forms = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        assert text.lower().count("<form") == text.lower().count("</form>"), path
        forms += [(str(path), body) for attrs, body in FORM.findall(text) if POST.search(attrs)]
    return forms


def test_every_post_form_in_the_templates_carries_a_csrf_token():
    forms = post_forms()
    assert len(forms) > 30  # the scan sees the portal, store, ops and admin overrides
    missing = [path for path, body in forms if "{% csrf_token %}" not in body]
    assert missing == []


@pytest.mark.django_db
def test_a_page_post_without_the_csrf_token_is_refused(django_user_model):
    django_user_model.objects.create_user("csrf-check", password="pw-for-tests-1")
    client = Client(enforce_csrf_checks=True)
    credentials = {"username": "csrf-check", "password": "pw-for-tests-1"}

    refused = client.post("/driver/login/", credentials)
    assert refused.status_code == 403

    page = client.get("/driver/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    accepted = client.post("/driver/login/", {**credentials, "csrfmiddlewaretoken": token[1]})
    assert accepted.status_code == 302  # logged in and sent on


@pytest.mark.django_db
def test_a_staff_action_post_without_the_csrf_token_is_refused(django_user_model):
    ops = django_user_model.objects.create_user("csrf-ops", password="x", is_staff=True)
    client = Client(enforce_csrf_checks=True)
    client.force_login(ops)
    response = client.post("/admin/logout/")
    assert response.status_code == 403
    assert client.get("/ops/").status_code == 200  # still logged in
