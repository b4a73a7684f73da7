#!/usr/bin/env bash
# Makes sure a command from a Debian package is installed:
#     ensure_package.sh COMMAND PACKAGE "what needs it" ["how to get it elsewhere"]
# Installs the package with apt-get when the command is missing and we are root; otherwise
# says how to get it and fails.
set -eu
cmd=$1 package=$2 what=$3 hint=${4:-}

if command -v "$cmd" >/dev/null 2>&1; then
  exit 0
fi

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "$cmd is missing; installing Debian's $package package for $what..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "$package"
  command -v "$cmd" >/dev/null 2>&1 && exit 0
  echo "apt-get ran but no '$cmd' binary is on PATH." >&2
  exit 1
fi

echo "$what need $cmd, and it is not installed. Install Debian's package:" >&2
echo "    sudo apt-get update && sudo apt-get install -y $package" >&2
[ -n "$hint" ] && echo "$hint" >&2
exit 1
