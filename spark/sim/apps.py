from django.apps import AppConfig


class SimConfig(AppConfig):
    name = "spark.sim"
    label = "sim"
    verbose_name = "City-day simulator"
