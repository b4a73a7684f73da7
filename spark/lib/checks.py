"""Deploy checks of the kernel's settings (`manage.py check --deploy`)."""

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def ops_two_factor_check(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if settings.SPARK_OPS_2FA or settings.DEBUG:
        return []
    return [
        checks.Warning(
            "SPARK_OPS_2FA is off: staff and superusers reach the admin and the ops console "
            "with a password alone.",
            hint="Unset SPARK_OPS_2FA (it is on whenever DEBUG is off) or set it to True.",
            id="spark.W001",
        )
    ]
