from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "spark.demo"
    label = "demo"
    verbose_name = "Demo data"
