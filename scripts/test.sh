#!/usr/bin/env bash
# Runs every test, on SQLite and on PostgreSQL.
#
# PostgreSQL comes from ONRAMP_TEST_POSTGRES_URL when it is set; otherwise this
# script starts a throwaway server (scripts/postgres.sh) and stops it on exit.
# Without PostgreSQL the tests that need it skip, which is allowed on a
# developer's machine (with a loud warning) and refused in CI (CI=true).
#
# The race detector is on: the whole suite takes about a minute with it on
# 2 cores (warm build cache; about 4 minutes from cold), against 30 s without.
# Arguments go to `go test` before the package list: scripts/test.sh -run TestX
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${ONRAMP_TEST_POSTGRES_URL:-}" ]; then
  pgdir=$(mktemp -d "${TMPDIR:-/tmp}/onramp-pg.XXXXXX")
  cleanup() { scripts/postgres.sh stop "$pgdir" >/dev/null 2>&1 || rm -rf "$pgdir"; }
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  if url=$(scripts/postgres.sh start "$pgdir"); then
    export ONRAMP_TEST_POSTGRES_URL=$url
  elif [ "${CI:-}" = true ]; then
    echo "test.sh: PostgreSQL could not be started and CI=true: failing (the PostgreSQL tests must run in CI)" >&2
    exit 1
  else
    {
      echo
      echo "################################################################################"
      echo "# WARNING: no PostgreSQL: the PostgreSQL tests will SKIP."
      echo "# Install it (apt-get install -y postgresql) or set ONRAMP_TEST_POSTGRES_URL."
      echo "################################################################################"
      echo
    } >&2
  fi
fi

go test -race -count=1 "$@" ./...
