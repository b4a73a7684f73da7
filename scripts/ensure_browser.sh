#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed for the browser tests (tests/e2e, Playwright).
# We never run `playwright install`: the tests launch the system's `chromium` binary.
# Installs it with apt-get when it is missing and we are root; otherwise says how to get it.
set -eu

if command -v chromium >/dev/null 2>&1; then
  exit 0
fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Chromium is missing; installing Debian's package for the browser tests..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq chromium
  command -v chromium >/dev/null 2>&1 && exit 0
  echo "apt-get ran but no 'chromium' binary is on PATH." >&2
  exit 1
fi

cat >&2 <<'MSG'
The browser tests (tests/e2e) need Chromium, and it is not installed.
Install Debian's package (not `playwright install`):
    sudo apt-get update && sudo apt-get install -y chromium
On Ubuntu, where `chromium` is a snap, install a Chromium that provides a `chromium` binary
on PATH, or skip the browser tests with: pytest -m "not e2e"
MSG
exit 1
