"""Settings of the processes the chaos tests start (Celery workers, gunicorn).

Production mode (DATABASE_URL and REDIS_URL are set by the test), with the fault windows
shortened so a test sees recovery in seconds instead of an hour. The proportions of production
are kept: every lease (webhook relay, payout submission) stays shorter than the broker's
visibility timeout, so a task redelivered after a worker died finds its rows free again (Q4).
"""

from datetime import timedelta

from spark.settings import *  # noqa: F403
from spark.settings import CELERY_BROKER_TRANSPORT_OPTIONS, LOGGING, env

# Q1: an unacked message of a dead worker comes back after this many seconds (production: 1 h),
# and the workers look for such messages every second.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,
    "visibility_timeout": env.int("SPARK_CHAOS_VISIBILITY_TIMEOUT", default=10),
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
SPARK_WEBHOOK_LEASE = timedelta(seconds=3)
PAYOUTS_SUBMIT_LEASE = timedelta(seconds=3)
# Small submission chunks: a settlement is many claim/send/apply rounds, so a kill at a random
# moment lands between the provider's transfer and the bookkeeping often.
PAYOUTS_SUBMIT_CHUNK = env.int("SPARK_CHAOS_SUBMIT_CHUNK", default=5)
# Plain HTTP on loopback: no redirect to https, cookies sent as the test sets them.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = False

# The tests read the worker's log to see a task received, redelivered and finished.
LOGGING = {
    **LOGGING,
    "loggers": {
        **LOGGING["loggers"],
        "celery.app.trace": {"level": "INFO"},
        "celery.worker.strategy": {"level": "INFO"},
    },
}
