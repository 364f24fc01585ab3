#!/usr/bin/env bash
# Load test of the real binary on SQLite and PostgreSQL (make bench).
#
# Builds bin/onramp and bin/onramp-bench, then runs the load generator
# (bench/), which starts `onramp serve` on 127.0.0.1 once per database, drives
# it, prints one table per database and writes the figures as JSON
# (bin/bench-results.json unless --json FILE is given). After the SCIM steps
# comes the delivery phase: hires through to enrollments at a Standard
# Webhooks receiver inside the load generator, on a fresh database.
#
# PostgreSQL: a fresh database on ONRAMP_TEST_POSTGRES_URL's server when that
# is set, else on a throwaway server started with scripts/postgres.sh (fsync
# off: its write figures are optimistic, and the output says so); without
# either, PostgreSQL is skipped and the output says so.
#
# Arguments go to the load generator:
#   scripts/bench.sh --quick              about 2 minutes: 5,000 users, groups of 1k and 5k
#   scripts/bench.sh                      the full run: 100,000 users, groups up to 100k
#   scripts/bench.sh --db sqlite --users 20000
#   scripts/bench.sh --phases delivery   only hires through to webhook enrollments (about 1 minute per database)
#   make bench BENCH_ARGS=--quick
# bin/onramp-bench --help lists every flag.
set -euo pipefail
cd "$(dirname "$0")/.."

${MAKE:-make} --no-print-directory build
echo "bench.sh: building bin/onramp-bench" >&2
CGO_ENABLED=0 ${GO:-go} build -o bin/onramp-bench ./bench

# Only start PostgreSQL when the run asks for it (the default does).
want_pg=true
for a in "$@"; do
  case "$a" in
    --db=*) [[ "${a#--db=}" == *postgres* ]] || want_pg=false ;;
  esac
done
prev=""
for a in "$@"; do
  if [ "$prev" = "--db" ] || [ "$prev" = "-db" ]; then [[ "$a" == *postgres* ]] || want_pg=false; fi
  prev=$a
done

pg_url=${ONRAMP_TEST_POSTGRES_URL:-}
skip_reason=""
pgdir=""
cleanup() {
  if [ -n "$pgdir" ]; then
    scripts/postgres.sh stop "$pgdir" >/dev/null 2>&1 || rm -rf "$pgdir"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if $want_pg && [ -z "$pg_url" ]; then
  pgdir=$(mktemp -d "${TMPDIR:-/tmp}/onramp-bench-pg.XXXXXX")
  if url=$(scripts/postgres.sh start "$pgdir"); then
    pg_url=$url
  else
    skip_reason="ONRAMP_TEST_POSTGRES_URL is not set and scripts/postgres.sh could not start a server (install PostgreSQL: apt-get install -y postgresql)"
    echo "bench.sh: PostgreSQL will be skipped: $skip_reason" >&2
  fi
fi

# Not exec: the trap stops the throwaway PostgreSQL when the run ends.
bin/onramp-bench --postgres "$pg_url" --postgres-skip-reason "$skip_reason" "$@"
