"""spark.lib.sql.Rows: values go to the database and come back exactly as the ORM sends and
reads them (the fast paths for datetimes, UUIDs and instances included)."""

import uuid
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models import signals
from hypothesis import given, settings
from hypothesis import strategies as st

from orders.models import Store
from spark.lib.sql import Rows, fetch
from tests.factories import StoreFactory


def _row(rows: Rows, store_id: int) -> tuple:
    sql = f"SELECT {rows.columns('s')} FROM orders_store s WHERE s.id = %s"  # noqa: S608
    [row] = fetch(sql, [store_id])
    return row


ZONES = [UTC, ZoneInfo("America/Chicago"), ZoneInfo("Asia/Kolkata"), timezone(timedelta(hours=-3))]


@settings(max_examples=200, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(1971, 1, 2), max_value=datetime(2999, 12, 30)),
    zone=st.sampled_from(ZONES),
)
def test_a_datetime_goes_to_the_database_as_the_field_sends_it(moment, zone):
    rows = Rows.of(Store)
    field = Store._meta.get_field("created_at")
    aware = moment.replace(tzinfo=zone)
    assert rows.to_db(field, aware) == field.get_db_prep_save(aware, connection)


def test_values_the_fast_paths_do_not_take_still_go_through_the_field():
    rows = Rows.of(Store)
    created = Store._meta.get_field("created_at")
    public_id = Store._meta.get_field("public_id")
    text = "2025-06-04T12:30:00+02:00"  # a string: the field parses it
    assert rows.to_db(created, text) == created.get_db_prep_save(text, connection)
    some = uuid.uuid4()
    assert rows.to_db(public_id, some) == public_id.get_db_prep_save(some, connection)
    assert rows.to_db(public_id, str(some)) == public_id.get_db_prep_save(str(some), connection)
    assert rows.to_db(public_id, None) is None


@pytest.mark.django_db
def test_a_row_read_back_is_the_instance_the_orm_reads():
    store = StoreFactory()
    rows = Rows.of(Store)
    ours, orms = rows.instance(_row(rows, store.id)), Store.objects.get(id=store.id)
    assert type(ours) is Store
    assert (ours._state.adding, ours._state.db) == (False, orms._state.db)
    for field in Store._meta.concrete_fields:
        assert getattr(ours, field.attname) == getattr(orms, field.attname), field.name
    assert ours.market.id == orms.market_id  # relations load as they would
    ours.name = "Renamed"
    ours.save(update_fields=["name"])  # and the instance saves like the ORM's
    assert Store.objects.get(id=store.id).name == "Renamed"


@pytest.mark.django_db
def test_a_model_with_init_receivers_is_read_through_from_db():
    calls = []

    def receiver(sender, instance, **kwargs):
        calls.append(instance)

    signals.post_init.connect(receiver, sender=Store)
    try:
        store = StoreFactory()
        rows = Rows(Store, connection)  # a fresh Rows sees the receiver
        row = _row(rows, store.id)
        calls.clear()
        read = rows.instance(row)
    finally:
        signals.post_init.disconnect(receiver, sender=Store)
    assert calls == [read]
