from django.apps import AppConfig


class SparkLibConfig(AppConfig):
    name = "spark.lib"
    label = "spark_lib"
    verbose_name = "Spark kernel"
