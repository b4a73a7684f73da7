"""Ops decisions in the admin: every action asks for a reason on an intermediate page."""

import datetime as dt

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from drivers.models import Appeal, BackgroundCheck, Document, Driver
from spark.lib import clock
from tests.drivers import factories

pytestmark = pytest.mark.django_db


def _action(client, model, action, ids, **data):
    url = reverse(f"admin:drivers_{model}_changelist")
    return client.post(url, {"action": action, ACTION_CHECKBOX_NAME: ids, **data})


@pytest.fixture
def ops(client, ops_user):
    client.force_login(ops_user)
    return client


def test_suspend_asks_for_reason_and_evidence_before_acting(ops):
    driver = factories.approved_driver()
    page = _action(ops, "driver", "suspend", [driver.id])
    assert page.status_code == 200
    body = page.content.decode()
    assert "Suspend drivers" in body
    assert 'name="evidence"' in body
    driver.refresh_from_db()
    assert driver.status == Driver.Status.APPROVED

    missing = _action(ops, "driver", "suspend", [driver.id], apply="1", reason="Late")
    assert missing.status_code == 200  # the form again, with the error
    driver.refresh_from_db()
    assert driver.status == Driver.Status.APPROVED

    done = _action(ops, "driver", "suspend", [driver.id], apply="1", reason="Late", evidence="T-7")
    assert done.status_code == 302
    driver.refresh_from_db()
    assert driver.status == Driver.Status.SUSPENDED
    event = driver.events.get(to_status="suspended")
    assert event.actor_label == "ops:ops-tester"
    assert event.actor_user_id is not None


def test_action_errors_are_reported_per_driver_not_500(ops):
    applied = factories.DriverFactory()
    response = _action(
        ops, "driver", "deactivate", [applied.id], apply="1", reason="x", evidence="y"
    )
    assert response.status_code == 302
    messages = [m.message for m in response.wsgi_request._messages]
    assert any("applied -> deactivated" in m for m in messages)


def test_document_approve_and_reject_actions(ops):
    driver = factories.driver_in(Driver.Status.SCREENING)
    licence, insurance = (
        driver.documents.get(kind="licence"),
        driver.documents.get(kind="insurance"),
    )
    _action(ops, "document", "approve", [licence.id], apply="1", reason="Matches the photo")
    _action(ops, "document", "reject", [insurance.id], apply="1", reason="Expired policy")
    licence.refresh_from_db()
    insurance.refresh_from_db()
    assert licence.status == "approved"
    assert licence.reviewed_by is not None
    assert (insurance.status, insurance.reject_reason) == ("rejected", "Expired policy")


def test_check_adjudication_actions(ops):
    driver = factories.driver_in(Driver.Status.SCREENING)
    check = driver.checks.get()
    BackgroundCheck.objects.filter(id=check.id).update(result="consider", adjudication="")
    _action(ops, "backgroundcheck", "pre_adverse_action", [check.id], apply="1", reason="DUI 2024")
    check.refresh_from_db()
    assert check.adjudication == "pre_adverse_action"
    assert check.adverse_action_due_at


def test_appeal_queue_shows_open_by_default_with_waiting_time(ops):
    driver = factories.driver_in(Driver.Status.SUSPENDED)
    decision = driver.events.get(to_status="suspended")
    Appeal.objects.create(
        driver=driver,
        event=decision,
        text="please" * 5,
        filed_at=clock.now() - dt.timedelta(hours=50),
    )
    body = ops.get(reverse("admin:drivers_appeal_changelist")).content.decode()
    assert "2 d 2 h" in body
    response = _action(ops, "appeal", "overturn", [Appeal.objects.get().id], apply="1", reason="ok")
    assert response.status_code == 302
    body = ops.get(reverse("admin:drivers_appeal_changelist")).content.decode()
    assert "2 d 2 h" not in body  # decided: out of the open queue
    decided = ops.get(reverse("admin:drivers_appeal_changelist") + "?status=decided")
    assert "took 2 d 2 h" in decided.content.decode()


@pytest.mark.parametrize(("what", "expected"), [("documents", 1), ("checks", 1), ("appeals", 1)])
def test_waiting_on_ops_filter(ops, what, expected):
    screening = factories.driver_in(Driver.Status.SCREENING)  # documents pending review
    consider = factories.driver_in(Driver.Status.SCREENING)
    Document.objects.filter(driver=consider).update(status="approved")
    BackgroundCheck.objects.filter(driver=consider).update(result="consider", adjudication="")
    suspended = factories.driver_in(Driver.Status.SUSPENDED)
    Appeal.objects.create(
        driver=suspended,
        event=suspended.events.get(to_status="suspended"),
        text="x" * 30,
        filed_at=clock.now(),
    )
    response = ops.get(reverse("admin:drivers_driver_changelist") + f"?waiting={what}")
    result = response.context["cl"].result_list
    expected_driver = {"documents": screening, "checks": consider, "appeals": suspended}[what]
    assert list(result) == [expected_driver]


@pytest.mark.parametrize(
    "model", ["driver", "document", "backgroundcheck", "appeal", "driverevent"]
)
def test_admin_pages_render_and_have_no_add(ops, model):
    factories.driver_in(Driver.Status.SUSPENDED)
    changelist = ops.get(reverse(f"admin:drivers_{model}_changelist"))
    assert changelist.status_code == 200
    assert ops.get(reverse(f"admin:drivers_{model}_add")).status_code == 403


def test_driver_change_page_shows_inlines_and_masks_licence_number(ops):
    driver = factories.approved_driver()
    body = ops.get(reverse("admin:drivers_driver_change", args=[driver.id])).content.decode()
    assert "Vehicle" in body
    assert "Download" in body
    assert "Test reason for approved." in body
    licence = driver.documents.get(kind="licence")
    body = ops.get(reverse("admin:drivers_document_change", args=[licence.id])).content.decode()
    assert "•••• 5678" in body
    assert "D1234-5678" not in body
    assert licence.file.name not in body  # no storage path leaks


def test_staff_without_change_permission_cannot_run_actions(client):
    staff = factories.DriverUserFactory(is_staff=True)
    client.force_login(staff)
    driver = factories.approved_driver()
    response = _action(
        client, "driver", "suspend", [driver.id], apply="1", reason="x", evidence="y"
    )
    assert response.status_code == 403
    driver.refresh_from_db()
    assert driver.status == Driver.Status.APPROVED
