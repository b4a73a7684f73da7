"""F1: schemathesis against the committed docs/openapi.yaml, in process (the Django WSGI app),
per role: a driver's token on the driver API, a merchant's API key on the shop API, and nobody
on every operation. Positive and negative cases; the checks are not_a_server_error,
response_schema_conformance and status_code_conformance.

`make test` runs a few examples per operation (the examples and fuzzing phases);
`make fuzz` runs SPARK_FUZZ_EXAMPLES (default 100) per operation with the coverage phase too.
Path ids and store ids are drawn from random values and from the city's real objects (the
role's own and another's), so cases reach past the 404 of an unknown id.
"""

import os
from collections import Counter
from typing import Any

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis import checks as st_checks

from tests.security.matrix import KNOWN_BUGS, OPERATIONS, SCHEMA_PATH, resolve
from tests.security.world import World

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("SPARK_FUZZ_EXAMPLES", "0")) or 3
FULL = "SPARK_FUZZ_EXAMPLES" in os.environ  # make fuzz: every phase, many examples
CHECKS = [
    st_checks.not_a_server_error,
    st_checks.response_schema_conformance,
    st_checks.status_code_conformance,
]
CALLS: Counter[str] = Counter()  # role -> cases sent (printed by conftest's summary)
REAL: dict[str, list[dict[str, Any]]] = {}  # operationId -> real path parameters to try
STORES: list[str] = []  # real store ids for bodies that name a store

schema = schemathesis.openapi.from_path(SCHEMA_PATH)
schema.app = WSGIHandler()
# make test draws the same cases every run (derandomized); make fuzz explores anew each time.
schema.config.generation.update(max_examples=EXAMPLES, deterministic=not FULL)
schema.config.phases.update(
    phases=["examples", "coverage", "fuzzing"] if FULL else ["examples", "fuzzing"]
)


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    options = REAL.get(schema.get_operation_id(context.operation) or "", [])
    return st.sampled_from([path_parameters, *options]) if options else st.just(path_parameters)


@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    if not (isinstance(body, dict) and "store_id" in body and STORES):
        return st.just(body)
    return st.sampled_from([body, *({**body, "store_id": s} for s in STORES)])


@pytest.fixture
def real_ids(world: World):
    """Both sides' objects for every operation that names one: own, and another's."""
    REAL.clear()
    for op_id, route in OPERATIONS.items():
        if route.params:
            REAL[op_id] = [resolve(world, route.params, side) for side in ("a", "b")]
    STORES[:] = [str(world.stores[side].public_id) for side in ("a", "b")]
    yield
    REAL.clear()
    STORES.clear()


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Django's test client does this for each request: a raw WSGI call would otherwise close
    the connection that holds the test's transaction once the response is done."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


HYPOTHESIS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _call(case: Any, role: str, headers: dict[str, str]) -> None:
    CALLS[role] += 1
    case.call_and_validate(headers=headers, checks=CHECKS)


# Past the door, the known bugs' 500s are test_authz_matrix's (test_known_bugs_are_still_there).
@(
    schema.include(path_regex="^/api/v1/driver/")
    .exclude(operation_id=sorted(KNOWN_BUGS))
    .parametrize()
)
@HYPOTHESIS
def test_driver_api_with_a_driver_token(case, world, real_ids):
    token = world.roles["driver_a"].token
    _call(case, "driver", {"Authorization": f"Token {token}"})


@schema.exclude(path_regex="^/api/v1/driver/").parametrize()
@HYPOTHESIS
def test_shop_api_with_a_merchant_key(case, world, real_ids):
    key = world.roles["merchant_a"].api_key
    _call(case, "merchant", {"Authorization": f"Bearer {key}"})


@schema.parametrize()
@HYPOTHESIS
def test_every_operation_anonymously(case, world, real_ids):
    _call(case, "anonymous", {})
