#!/usr/bin/env bash
# Makes sure wrk (the HTTP load generator) is installed for the API benchmarks (P6-P8,
# bench/bench_api.py). Without it the benchmark falls back to a Python client that cannot
# drive the accept and location-ping runs, so P7 and P8 would go unmeasured.
exec bash "$(dirname "$0")/ensure_package.sh" wrk wrk "the API benchmarks (P6-P8)"
