"""Settings for the API benchmarks: Spark's own, plus the same-run baseline views."""

from spark.settings import *  # noqa: F403

ROOT_URLCONF = "bench.bench_urls"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
LOGGING = {"version": 1, "disable_existing_loggers": True}
