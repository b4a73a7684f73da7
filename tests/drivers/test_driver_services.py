import itertools

import pytest
from django.core.files.base import ContentFile

from drivers import selectors, services
from drivers.models import BackgroundCheck, Document, Driver, DriverEvent
from drivers.services.lifecycle import _driver_transition
from spark.lib.actors import Actor
from spark.lib.errors import Conflict, InvalidTransition, Unprocessable
from tests.drivers import factories, files
from tests.factories import MarketFactory

pytestmark = pytest.mark.django_db

S = Driver.Status
OPS = Actor(label="ops:tester")
ALL_PAIRS = list(itertools.product(S.values, S.values))


@pytest.mark.parametrize(("from_status", "to_status"), ALL_PAIRS)
def test_driver_transition_table_allows_exactly_its_edges(from_status, to_status):
    driver = factories.DriverFactory(status=from_status)
    allowed = to_status in Driver.TRANSITIONS[from_status]

    if not allowed:
        with pytest.raises(InvalidTransition) as exc:
            _driver_transition(driver, to=to_status, actor=OPS, reason="r")
        assert exc.value.current_status == from_status
        driver.refresh_from_db()
        assert driver.status == from_status
        assert not DriverEvent.objects.filter(driver=driver).exists()
        return

    event = _driver_transition(driver, to=to_status, actor=OPS, reason="because")
    driver.refresh_from_db()
    assert driver.status == to_status
    assert driver.status_changed_at == event.at
    assert (event.from_status, event.to_status, event.actor_label, event.reason) == (
        from_status,
        to_status,
        "ops:tester",
        "because",
    )


def test_every_status_has_a_transition_row():
    assert set(Driver.TRANSITIONS) == set(S.values)
    assert Driver.TRANSITIONS[S.REJECTED] == frozenset()


def _signup(email="new.driver@example.com", market=None):
    market = market or MarketFactory()
    return services.driver_signup(
        email=email,
        password="a-long-pass-phrase-1",
        first_name="Nia",
        last_name="Ortiz",
        phone="+1 615 555 0199",
        home_market_id=market.id,
    )


def test_driver_signup_creates_user_and_applied_driver_with_event():
    driver = _signup(email="  New.Driver@Example.com ")
    assert driver.status == S.APPLIED
    assert driver.user.username == "new.driver@example.com"
    assert driver.user.check_password("a-long-pass-phrase-1")
    assert driver.events.get().reason.startswith("Welcome!")


def test_driver_signup_fails_when_email_taken():
    _signup()
    with pytest.raises(Conflict):
        _signup(email="NEW.driver@example.com")


def _profile(driver, **overrides):
    kwargs = {
        "phone": "+1 615 555 0101",
        "home_market_id": driver.home_market_id,
        "is_21_plus": True,
        "age_attested": True,
        "max_pickup_km": 12.5,
        "min_pay_cents_per_mile": 150,
        "no_alcohol": False,
    }
    return services.driver_profile_update(driver_id=driver.id, actor=OPS, **{**kwargs, **overrides})


def test_profile_and_vehicle_move_applied_driver_to_documents_pending():
    driver = _signup()
    driver = _profile(driver)
    assert driver.status == S.APPLIED
    assert driver.age_attested_at is not None
    assert driver.is_21_plus
    services.vehicle_save(
        driver_id=driver.id, actor=OPS, make="Honda", model="Fit", year=2018, vehicle_type="car"
    )
    driver.refresh_from_db()
    assert driver.status == S.DOCUMENTS_PENDING
    assert driver.vehicle.cargo_capacity_units == 12  # the type's default


def test_profile_update_keeps_attestation_time_unless_reattested():
    driver = _profile(_signup())
    first = driver.age_attested_at
    driver = _profile(driver, age_attested=False, is_21_plus=False)
    assert driver.age_attested_at == first
    assert driver.is_21_plus


def test_profile_update_rejects_non_positive_pickup_distance():
    with pytest.raises(Unprocessable):
        _profile(_signup(), max_pickup_km=0)


@pytest.mark.parametrize(
    ("service", "kwargs"),
    [
        (services.driver_suspend, {"reason": "", "evidence": "ticket 1"}),
        (services.driver_suspend, {"reason": "late", "evidence": " "}),
        (services.driver_deactivate, {"reason": "fraud", "evidence": ""}),
        (services.driver_deactivate, {"reason": "", "evidence": "ticket 2"}),
    ],
)
def test_suspend_and_deactivate_fail_without_reason_and_evidence(service, kwargs):
    driver = factories.approved_driver()
    with pytest.raises(Unprocessable):
        service(driver_id=driver.id, actor=OPS, **kwargs)
    driver.refresh_from_db()
    assert driver.status == S.APPROVED


def test_driver_suspend_records_event_and_emails_driver_after_commit(
    django_capture_on_commit_callbacks, mailoutbox
):
    driver = factories.approved_driver()
    with django_capture_on_commit_callbacks(execute=True):
        services.driver_suspend(
            driver_id=driver.id, actor=OPS, reason="Three late deliveries", evidence="Tickets 1-3"
        )
    event = driver.events.filter(to_status=S.SUSPENDED).get()
    assert (event.reason, event.evidence) == ("Three late deliveries", "Tickets 1-3")
    assert event.notified_at is not None
    assert len(mailoutbox) == 1
    assert mailoutbox[0].subject == "Your Spark account is suspended"
    assert "Three late deliveries" in mailoutbox[0].body
    assert "appeal" in mailoutbox[0].body


def test_no_email_when_the_transaction_rolls_back(django_capture_on_commit_callbacks, mailoutbox):
    driver = factories.approved_driver()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(InvalidTransition),
    ):
        services.driver_reject(driver_id=driver.id, actor=OPS, reason="x")
    assert callbacks == []
    assert mailoutbox == []


def test_driver_event_notify_sends_once(mailoutbox):
    driver = factories.approved_driver()
    event = driver.events.get()
    assert services.driver_event_notify(event_id=event.id) is True
    assert services.driver_event_notify(event_id=event.id) is False
    assert len(mailoutbox) == 1


def test_driver_approve_refuses_deactivated_driver_without_appeal():
    driver = factories.driver_in(S.DEACTIVATED)
    with pytest.raises(Conflict):
        services.driver_approve(driver_id=driver.id, actor=OPS, reason="changed my mind")


def test_driver_approve_reinstates_suspended_driver():
    driver = factories.driver_in(S.SUSPENDED)
    services.driver_approve(driver_id=driver.id, actor=OPS, reason="Cleared after review")
    driver.refresh_from_db()
    assert driver.status == S.APPROVED


def test_driver_reject_refuses_screening_driver():
    driver = factories.driver_in(S.SCREENING)
    with pytest.raises(Conflict):
        services.driver_reject(driver_id=driver.id, actor=OPS, reason="no")


def _upload(driver, kind, content=None, **kwargs):
    return services.document_upload(
        driver_id=driver.id,
        actor=OPS,
        kind=kind,
        file=ContentFile(content or files.png()),
        expires_on=kwargs.pop(
            "expires_on", factories.dt.date.today() + factories.dt.timedelta(400)
        ),
        licence_number="D123-4567" if kind == "licence" else "",
        **kwargs,
    )


def _ready_for_screening(email="ready.driver@example.com"):
    driver = _profile(_signup(email=email))
    services.vehicle_save(
        driver_id=driver.id, actor=OPS, make="Kia", model="Soul", year=2020, vehicle_type="car"
    )
    for kind in Document.REQUIRED:
        _upload(driver, kind)
    driver.refresh_from_db()
    return driver


def test_onboarding_happy_path_through_sandbox_screening_ends_approved(
    django_capture_on_commit_callbacks, mailoutbox
):
    driver = _ready_for_screening()
    assert driver.status == S.DOCUMENTS_PENDING
    check = services.background_check_start(driver_id=driver.id, actor=OPS)
    driver.refresh_from_db()
    assert driver.status == S.SCREENING
    assert check.status == BackgroundCheck.Status.INVITED
    assert "/driver/screening/sandbox/" in check.invitation_url

    with django_capture_on_commit_callbacks(execute=True):
        services.sandbox_invitation_submit(driver_id=driver.id, invitation_id=check.invitation_id)
    check.refresh_from_db()
    assert (check.status, check.result, check.adjudication) == ("complete", "clear", "engaged")
    driver.refresh_from_db()
    assert driver.status == S.SCREENING  # documents still wait for review

    for document in selectors.document_list_current(driver_id=driver.id):
        services.document_approve(document_id=document.id, actor=OPS, reason="Looks right")
    driver.refresh_from_db()
    assert driver.status == S.APPROVED
    assert selectors.driver_can_go_online(driver_id=driver.id)


def test_background_check_start_fails_when_documents_missing():
    driver = _profile(_signup())
    services.vehicle_save(
        driver_id=driver.id, actor=OPS, make="Kia", model="Soul", year=2020, vehicle_type="car"
    )
    _upload(driver, "licence")
    with pytest.raises(Conflict, match="insurance"):
        services.background_check_start(driver_id=driver.id, actor=OPS)


def test_background_check_start_fails_when_one_is_running():
    driver = _ready_for_screening()
    services.background_check_start(driver_id=driver.id, actor=OPS)
    with pytest.raises(Conflict):
        services.background_check_start(driver_id=driver.id, actor=OPS)


def test_consider_report_leads_through_adverse_action_to_rejected(
    django_capture_on_commit_callbacks, mailoutbox, settings
):
    driver = _ready_for_screening(email="sam+consider@example.com")
    check = services.background_check_start(driver_id=driver.id, actor=OPS)
    with django_capture_on_commit_callbacks(execute=True):
        services.sandbox_invitation_submit(driver_id=driver.id, invitation_id=check.invitation_id)
    check.refresh_from_db()
    assert (check.result, check.adjudication) == ("consider", "")
    assert check.needs_review

    with django_capture_on_commit_callbacks(execute=True):
        services.background_check_pre_adverse_action(
            check_id=check.id, actor=OPS, reason="Reckless driving conviction, 2023"
        )
    check.refresh_from_db()
    assert check.adverse_action_due_at - check.pre_adverse_action_at == (
        settings.SCREENING_ADVERSE_ACTION_WAIT
    )
    assert services.background_checks_adverse_action_finish_due() == 0  # still waiting

    check.adverse_action_due_at = check.pre_adverse_action_at  # the waiting period is over
    check.save(update_fields=["adverse_action_due_at"])
    with django_capture_on_commit_callbacks(execute=True):
        assert services.background_checks_adverse_action_finish_due() == 1
    assert services.background_checks_adverse_action_finish_due() == 0
    driver.refresh_from_db()
    assert driver.status == S.REJECTED
    subjects = [m.subject for m in mailoutbox]
    assert "Pre-adverse action notice" in subjects
    assert "Final notice about your Spark application" in subjects
    codes = set(driver.events.values_list("code", flat=True))
    assert {"screening_completed", "pre_adverse_action", "adverse_action"} <= codes


def test_engage_after_consider_approves_driver_with_approved_documents():
    driver = factories.driver_in(S.SCREENING)
    Document.objects.filter(driver=driver).update(status=Document.Status.APPROVED)
    check = driver.checks.get()
    check.result, check.adjudication = "consider", ""
    check.save()
    services.background_check_engage(check_id=check.id, actor=OPS, note="Old, minor offence")
    driver.refresh_from_db()
    assert driver.status == S.APPROVED


def test_engage_fails_when_check_is_not_waiting_for_a_decision():
    driver = factories.driver_in(S.SCREENING)
    with pytest.raises(Conflict):
        services.background_check_engage(check_id=driver.checks.get().id, actor=OPS, note="x")
