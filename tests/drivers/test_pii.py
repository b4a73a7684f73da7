"""A9: no SSN/DOB anywhere in the schema; licence numbers encrypted, and readable after a key
rotation."""

import re

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.core.management import call_command
from django.db import connection

from drivers import fields, services
from drivers.models import Document
from tests.drivers import factories

pytestmark = pytest.mark.django_db

PII_NAME = re.compile(r"ssn|social_?security|(^|_)dob($|_)|birth", re.IGNORECASE)


def test_no_model_in_any_app_has_an_ssn_or_birth_date_field():
    offenders = [
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.get_fields()
        if PII_NAME.search(field.name) or PII_NAME.search(getattr(field, "column", "") or "")
    ]
    assert offenders == []


def _raw_licence_number(document_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT licence_number FROM {Document._meta.db_table} WHERE id = %s",  # noqa: S608
            [document_id],
        )
        return cursor.fetchone()[0]


def test_licence_number_is_unreadable_in_raw_sql():
    document = factories.DocumentFactory(kind="licence", licence_number="TN 1234 5678")
    raw = _raw_licence_number(document.id)
    assert "1234" not in raw
    assert raw.startswith("gAAAAA")
    document.refresh_from_db()
    assert document.licence_number == "TN 1234 5678"


def test_no_ssn_shaped_value_in_a_dump_of_driver_tables():
    factories.approved_driver()
    ssn = re.compile(r"\b\d{3}-\d{2}-\d{4}\b")
    with connection.cursor() as cursor:
        for model in apps.get_app_config("drivers").get_models():
            cursor.execute(f"SELECT * FROM {model._meta.db_table}")  # noqa: S608
            for row in cursor.fetchall():
                assert not any(ssn.search(str(value)) for value in row), model


def test_licence_number_survives_key_rotation(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    document = factories.DocumentFactory(kind="licence", licence_number="TN 1234 5678")
    token_under_old = _raw_licence_number(document.id)

    settings.FIELD_ENCRYPTION_KEYS = [new, old]  # new key first: encrypts; old still reads
    document.refresh_from_db()
    assert document.licence_number == "TN 1234 5678"

    assert services.document_encryption_rotate() == 1
    assert services.document_encryption_rotate() == 0  # already under the new key
    token_under_new = _raw_licence_number(document.id)
    assert token_under_new != token_under_old

    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key retired
    document.refresh_from_db()
    assert document.licence_number == "TN 1234 5678"
    with pytest.raises(InvalidToken):
        Fernet(old.encode()).decrypt(token_under_new.encode())


def test_rotation_command_reports_its_work(settings, capsys):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    factories.DocumentFactory(kind="licence", licence_number="X1234")
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("drivers_rotate_encryption_keys")
    assert "Re-encrypted 1 licence number" in capsys.readouterr().out


def test_encrypted_field_refuses_lookups():
    with pytest.raises(NotImplementedError):
        list(Document.objects.filter(licence_number="TN 1234 5678"))


def test_development_key_is_derived_when_none_is_configured(settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    assert fields.configured_keys() == (
        fields.derive_key(settings.SECRET_KEY, purpose="field-encryption"),
    )
