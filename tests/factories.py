"""factory_boy factories for plain rows. State with invariants is built through services."""

import factory
from django.contrib.auth import get_user_model

from orders.models import Market, Merchant, Store, StoreMembership

NASHVILLE = (36.1627, -86.7816)


class MarketFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Market

    name = factory.Sequence(lambda n: f"Market {n}")
    slug = factory.Sequence(lambda n: f"market-{n}")
    timezone = "America/Chicago"
    currency = "USD"
    centre_lat, centre_lng = NASHVILLE


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Merchant {n}")
    slug = factory.Sequence(lambda n: f"merchant-{n}")


class StoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Store

    market = factory.SubFactory(MarketFactory)
    merchant = factory.SubFactory(MerchantFactory)
    name = factory.Sequence(lambda n: f"Store {n}")
    address = "3458 Dickerson Pike, Nashville, TN"
    lat, lng = NASHVILLE
    delivery_radius_km = 12.0
    opening_hours: dict = {}  # always open


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-1")

    @factory.post_generation
    def persist_password(obj, create, extracted, **kwargs):  # noqa: N805
        if create:  # PostGenerationMethodCall sets it in memory only
            obj.save(update_fields=["password"])


class StoreMembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StoreMembership

    user = factory.SubFactory(UserFactory)
    store = factory.SubFactory(StoreFactory)
