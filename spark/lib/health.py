"""/healthz: is the database answering, and can we reach the broker?"""

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

from spark.celery import app


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        return False


def _broker_ok() -> bool:
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:
        return False


def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    ok = all(checks.values())
    body = {
        "status": "ok" if ok else "unavailable",
        "checks": {k: "ok" if v else "down" for k, v in checks.items()},
        "mode": "embedded" if settings.EMBEDDED else "production",
    }
    return JsonResponse(body, status=200 if ok else 503)
