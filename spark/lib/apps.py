from django.apps import AppConfig


class SparkLibConfig(AppConfig):
    name = "spark.lib"
    label = "spark_lib"
    verbose_name = "Spark kernel"

    def ready(self) -> None:
        from spark.lib import audit, checks  # noqa: F401 (checks register on import)

        audit.connect_task_signals()
