#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed for the browser tests (tests/e2e, Playwright).
# We never run `playwright install`: the tests launch the system's `chromium` binary.
exec bash "$(dirname "$0")/ensure_package.sh" chromium chromium "the browser tests (tests/e2e)" \
  "(not \`playwright install\`). On Ubuntu, where chromium is a snap, install a Chromium that
provides a 'chromium' binary on PATH, or skip the browser tests with: pytest -m \"not e2e\""
