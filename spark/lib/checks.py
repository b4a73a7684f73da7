"""Deploy checks of the kernel's settings (`manage.py check --deploy`)."""

from typing import Any

from django.conf import settings
from django.core import checks
from django.db import connections

from spark.lib.db import autovacuum_off


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


@checks.register(checks.Tags.database)
def autovacuum_check(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """PostgreSQL without autovacuum keeps the statistics of empty tables: the dispatch round's
    reads of online drivers and their documents then plan as nested loops (a 29 ms read instead
    of 3 ms at 500 drivers, measured by the simulator). `manage.py check --database default`."""
    messages: list[checks.CheckMessage] = []
    for alias in databases or ():
        if autovacuum_off(connections[alias]):
            messages.append(
                checks.Warning(
                    f"PostgreSQL ({alias}) runs with autovacuum off: table statistics go stale"
                    " and the dispatch rounds' queries turn into nested loops as tables grow.",
                    hint="Set autovacuum = on in postgresql.conf (the default), or ANALYZE the"
                    " orders, dispatch and drivers tables on a schedule.",
                    id="spark.W002",
                )
            )
    return messages
