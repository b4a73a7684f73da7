from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "spark.ops"
    label = "ops"
    verbose_name = "Ops console"
