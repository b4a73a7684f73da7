from django.apps import AppConfig


class StoreConfig(AppConfig):
    name = "spark.store"
    label = "store"
    verbose_name = "Store dashboard"
