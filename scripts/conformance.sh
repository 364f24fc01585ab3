#!/usr/bin/env bash
# Runs the public SCIM conformance suites against the real binary, on SQLite and on PostgreSQL:
# Microsoft's "SCIM Tests" Postman collection and Okta's "SCIM 2.0 SPEC Test", with the runners of
# the conformance pack in ../shared/conformance (beside the repository; see its README).
#
# Each suite gets its own server on its own EMPTY database (the Microsoft collection counts users and
# expects empty lists at the end; Okta seeds one user itself): `onramp serve --listen 127.0.0.1:0`
# with a random ONRAMP_BOOTSTRAP_TOKEN, stopped with SIGTERM afterwards; the database is then dropped.
# Prints a table per database and suite. Exit status: 0 when every suite ran and every assertion
# that ran passed, 1 otherwise, 2 on a set-up error.
#
# Environment:
#   ONRAMP_BIN                the binary to test (make conformance passes bin/onramp); by default this
#                             script builds bin/onramp first
#   ONRAMP_TEST_POSTGRES_URL  a PostgreSQL server on which to create (and drop) the test databases;
#                             unset: a throwaway server is started with scripts/postgres.sh. Without
#                             PostgreSQL the PostgreSQL half is skipped with a warning, except under
#                             CI=true, where that is a failure.
#   CONFORMANCE_CACHE         where the Microsoft runner installs newman (default ~/.cache/onramp-conformance)
#   CONFORMANCE_OUT           keep every log and report here (default: a temporary directory,
#                             removed when everything passed, kept and printed otherwise)
# Needs Node.js >= 18 and npm (the first run installs newman from the npm registry), and psql for
# PostgreSQL (it comes with the PostgreSQL packages).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

PACK=$root/../shared/conformance

# Requests of Microsoft's collection that are not run, with the reason. MS_SKIP drops every request
# of that name, with its assertions; the assertions each drop removes are listed. Everything else
# runs as the conformance pack prepares it (see its README), and every assertion that runs must pass.
MS_SKIP_LIST=(
  # PATCH add to "members" with a bare string ("value": "string id 1"), expected to answer 204.
  # Removes 1 assertion (Status code is 204). A member is a complex value (RFC 7643 §4.2: value,
  # $ref, type, display) and "string id 1" names no user, so Onramp answers 400 invalidValue and
  # changes nothing. No real client sends this form: Entra ID adds members as
  # [{"$ref": null, "value": "<id>"}] (../shared/fixtures/idp/azuread/update_group.json), Okta as
  # [{"value": "<id>", "display": "..."}] (../shared/fixtures/idp/okta/update_group_membership.json).
  # e2e/conformance_test.go (TestMicrosoftSkippedRequests) checks the 400 and that nothing changed.
  "Group tests with garbage/Group patch add member"
  # The same with "string id 2". Removes 1 assertion (Status code is 204).
  "Group tests with garbage/Group patch add member2"
  # Two requests share this name; MS_SKIP drops both. The first asserts that the group's body
  # contains "new User", a "displayName" sub-attribute the collection sent in a member object. RFC
  # 7643 §4.2 defines no members.displayName; Onramp computes each member's "display" from the user
  # it names and keeps no undefined sub-attributes, so the echo never appears. Entra ID never sends
  # it (it sends value and a null $ref). Removes 6 assertions: Status code is 200 (x2), Id matches
  # (x2), Body contians user (includes "new User"; and, on the second request, after "remove
  # members", does not include it). e2e/conformance_test.go (TestMicrosoftSkippedRequests) replays
  # these requests and checks what Onramp answers instead.
  "Group tests/Get group by id"
)
# The collection has 107 assertions after preparation; the skips above remove 8.
MS_EXPECTED=99
# Okta's SPEC test: 52 assertions and 1 script, minus the response-time assertion (see below).
OKTA_EXPECTED=52

die() {
  echo "conformance.sh: $*" >&2
  exit 2
}

[ -d "$PACK" ] || die "no conformance pack at $PACK: the shared folder must sit beside the repository (../shared/conformance)"
for f in run-microsoft.sh run-okta.sh; do
  [ -f "$PACK/$f" ] || die "the conformance pack at $PACK has no $f"
done
command -v node >/dev/null 2>&1 || die "node is not on PATH: both runners need Node.js >= 18 (apt-get install -y nodejs npm)"

# ---- the binary ---------------------------------------------------------------------------------
if [ -z "${ONRAMP_BIN:-}" ]; then
  command -v go >/dev/null 2>&1 || export PATH=$PATH:/usr/local/go/bin
  echo "--- go build -o bin/onramp ./cmd/onramp" >&2
  CGO_ENABLED=0 go build -trimpath -o bin/onramp ./cmd/onramp
  ONRAMP_BIN=bin/onramp
fi
[ -x "$ONRAMP_BIN" ] || die "ONRAMP_BIN=$ONRAMP_BIN is not an executable"

work=$(mktemp -d "${TMPDIR:-/tmp}/onramp-conformance-run.XXXXXX")
if [ -n "${CONFORMANCE_OUT:-}" ]; then
  out=$CONFORMANCE_OUT
  keep_out=1
  mkdir -p "$out"
else
  out=$(mktemp -d "${TMPDIR:-/tmp}/onramp-conformance-logs.XXXXXX")
  keep_out=0
fi
# ---- clean-up -----------------------------------------------------------------------------------
server_pid=
pg_admin=
pg_dir=
pg_dbs=()
psql=

stop_server() {
  local pid=$server_pid rc=0 i
  [ -n "$pid" ] || return 0
  server_pid=
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 450); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "conformance.sh: onramp serve (pid $pid) did not exit within 45 s of SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    return 1
  fi
  wait "$pid" 2>/dev/null || rc=$?
  return "$rc"
}

drop_pg_db() {
  local name=$1
  "$psql" "$pg_admin" -X -q -v ON_ERROR_STOP=1 -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null
}

cleanup() {
  local name
  stop_server >/dev/null 2>&1 || true
  for name in ${pg_dbs[@]+"${pg_dbs[@]}"}; do
    drop_pg_db "$name" 2>/dev/null || echo "conformance.sh: could not drop database $name" >&2
  done
  if [ -n "$pg_dir" ]; then
    scripts/postgres.sh stop "$pg_dir" >/dev/null 2>&1 || rm -rf "$pg_dir"
  fi
  if [ "$keep_out" = 0 ] && [ "${failed_any:-1}" = 0 ]; then
    rm -rf "$out"
  else
    echo "conformance.sh: logs and reports are in $out" >&2
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Run a private copy: a rebuild of bin/onramp during the run must not change the server under test.
cp "$ONRAMP_BIN" "$work/onramp"
bin=$work/onramp

# ---- PostgreSQL -----------------------------------------------------------------------------------
dbs=(sqlite postgres)
pg_missing=
find_psql() {
  local d
  if d=$(scripts/postgres.sh bindir 2>/dev/null) && [ -x "$d/psql" ]; then
    psql=$d/psql
  elif command -v psql >/dev/null 2>&1; then
    psql=$(command -v psql)
  else
    return 1
  fi
}
if [ -n "${ONRAMP_TEST_POSTGRES_URL:-}" ]; then
  pg_admin=$ONRAMP_TEST_POSTGRES_URL
  find_psql || die "ONRAMP_TEST_POSTGRES_URL is set but psql is not installed (apt-get install -y postgresql-client)"
else
  pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/onramp-conformance-pg.XXXXXX")
  if pg_admin=$(scripts/postgres.sh start "$pg_dir") && find_psql; then
    :
  else
    pg_admin=
    pg_missing="PostgreSQL could not be started (scripts/postgres.sh) and ONRAMP_TEST_POSTGRES_URL is not set"
  fi
fi
if [ -n "$pg_missing" ]; then
  if [ "${CI:-}" = true ]; then
    echo "conformance.sh: $pg_missing, and CI=true: failing (the PostgreSQL suites must run in CI)" >&2
    exit 1
  fi
  {
    echo
    echo "################################################################################"
    echo "# WARNING: no PostgreSQL: the conformance suites run on SQLite only."
    echo "# Install it (apt-get install -y postgresql) or set ONRAMP_TEST_POSTGRES_URL."
    echo "################################################################################"
    echo
  } >&2
fi

randhex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# new_database DB: sets db_url to a new, empty database of kind DB.
db_url=
new_database() {
  local name
  case $1 in
    sqlite)
      mkdir -p "$work/db"
      db_url=sqlite:$(mktemp -u "$work/db/onramp.XXXXXX").db
      ;;
    postgres)
      # The name is ours (hex), so it can be written into the statement.
      name=onramp_conformance_$(randhex 6)
      PGCONNECT_TIMEOUT=10 "$psql" "$pg_admin" -X -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE $name" >/dev/null || return 1
      pg_dbs+=("$name")
      # Replace the path of the server's URL with the new database, keeping the query (sslmode...).
      db_url=$(printf '%s\n' "$pg_admin" | sed -E "s#^([a-zA-Z][a-zA-Z0-9+.-]*://[^/?]*)(/[^?]*)?#\1/$name#")
      ;;
  esac
}

# drop_database URL
drop_database() {
  local url=$1 name
  case $url in
    sqlite:*) rm -f "${url#sqlite:}" "${url#sqlite:}-wal" "${url#sqlite:}-shm" ;;
    *)
      name=${pg_dbs[${#pg_dbs[@]} - 1]}
      drop_pg_db "$name"
      unset 'pg_dbs[${#pg_dbs[@]}-1]'
      ;;
  esac
}

# http_ok URL: true when GET URL answers 200.
http_ok() {
  if command -v curl >/dev/null 2>&1; then
    [ "$(curl -s -o /dev/null -m 5 -w '%{http_code}' "$1" 2>/dev/null)" = 200 ]
  else
    node -e 'fetch(process.argv[1], {signal: AbortSignal.timeout(5000)}).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))' "$1"
  fi
}

# start_server DBURL LOG TOKEN: starts onramp serve and sets server_pid and base; on failure sets
# start_error and returns 1. (Not to be called in a subshell: it sets globals.)
base=
start_error=
start_server() {
  local db=$1 log=$2 token=$3 addr= i
  # The working directory is ours, so a stray default sqlite:onramp.db never lands in the tree.
  # The developer's own ONRAMP_* settings must not leak into the server under test.
  local unset_args=() v
  for v in $(compgen -e | grep '^ONRAMP_' || true); do unset_args+=(-u "$v"); done
  (cd "$work" && exec env ${unset_args[@]+"${unset_args[@]}"} ONRAMP_BOOTSTRAP_TOKEN="$token" \
    "$bin" serve --listen 127.0.0.1:0 --database "$db") </dev/null >>"$log" 2>&1 &
  server_pid=$!
  for i in $(seq 1 600); do
    kill -0 "$server_pid" 2>/dev/null || { start_error="onramp serve exited before listening"; return 1; }
    addr=$(grep -m1 '"msg":"listening"' "$log" 2>/dev/null | sed -n 's/.*"addr":"\([^"]*\)".*/\1/p') || true
    [ -n "$addr" ] && break
    sleep 0.1
  done
  [ -n "$addr" ] || { start_error="no \"listening\" log line within 60 s"; return 1; }
  base=http://$addr
  for i in $(seq 1 600); do
    kill -0 "$server_pid" 2>/dev/null || { start_error="onramp serve exited before /readyz answered"; return 1; }
    http_ok "$base/readyz" && return 0
    sleep 0.1
  done
  start_error="GET $base/readyz did not answer 200 within 60 s"
  return 1
}

# ---- the suites ---------------------------------------------------------------------------------
# run_suite DB SUITE: one fresh database and server, one suite; records a row of the summary.
rows=()
failed_any=0
run_suite() {
  local db=$1 suite=$2
  local dir=$out/$db-$suite token url why rc=0 last passed failed expected status detail t0
  mkdir -p "$dir"
  t0=$SECONDS
  echo "--- $suite on $db"
  token=conformance-$(randhex 32)
  if ! new_database "$db"; then
    rows+=("$db|$suite|NOT RUN|could not create a database|$((SECONDS - t0))")
    failed_any=1
    return
  fi
  url=$db_url
  if ! start_server "$url" "$dir/onramp.log" "$token"; then
    why=$start_error
    echo "conformance.sh: $why; the server's log:" >&2
    tail -n 40 "$dir/onramp.log" >&2 || true
    stop_server >/dev/null 2>&1 || true
    drop_database "$url" || true
    rows+=("$db|$suite|NOT RUN|$why|$((SECONDS - t0))")
    failed_any=1
    return
  fi

  case $suite in
    microsoft)
      expected=$MS_EXPECTED
      local skip
      skip=$(IFS=';'; echo "${MS_SKIP_LIST[*]}")
      CONFORMANCE_OUT=$dir MS_SKIP=$skip timeout 900 \
        "$PACK/run-microsoft.sh" "$base/scim/v2" "$token" >"$dir/runner.log" 2>&1 || rc=$?
      ;;
    okta)
      expected=$OKTA_EXPECTED
      # OKTA_IGNORE_RESPONSE_TIME=1: Okta's test asserts that GET /Groups answers in under 600 ms.
      # Our tests never assert on wall-clock time: on a shared, loaded CI machine such a check fails
      # at random and says nothing about the code (performance is what make bench measures). The
      # runner reports that one assertion as SKIP, not as a pass. The token goes in the environment
      # (OKTA_TOKEN), not on the command line.
      OKTA_TOKEN=$token OKTA_IGNORE_RESPONSE_TIME=1 timeout 900 \
        "$PACK/run-okta.sh" "$base/scim/v2" >"$dir/runner.log" 2>&1 || rc=$?
      ;;
  esac

  why=
  if ! stop_server; then
    why="onramp serve did not exit 0 on SIGTERM"
    echo "conformance.sh: $why; its last lines:" >&2
    tail -n 20 "$dir/onramp.log" >&2 || true
  fi
  drop_database "$url" || echo "conformance.sh: could not drop the $db database" >&2

  # What was not run, as the runners report it (Microsoft's MS_SKIP drops, Okta's timing check).
  grep -E '^(  SKIP: |SKIP  )' "$dir/runner.log" | sed 's/^ */    /' || true
  last=$(tail -n 1 "$dir/runner.log")
  echo "    $last"
  status=FAIL
  if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    passed=${BASH_REMATCH[1]}
    failed=${BASH_REMATCH[2]}
    if [ "$failed" != 0 ]; then
      :
    elif [ "$passed" != "$expected" ]; then
      why="${why:+$why; }expected $expected assertions to run"
    elif [ "$rc" != 0 ]; then
      why="${why:+$why; }runner exit $rc"
    elif [ -z "$why" ]; then
      status=PASS
    fi
    detail=$last
  else
    status="NOT RUN"
    detail="runner exit $rc, no summary line"
  fi
  # The token must never show up in what the runners and the server print or write.
  if grep -rqF "$token" "$dir"; then
    status=FAIL
    why="${why:+$why; }the bearer token appears in $(grep -rlF "$token" "$dir" | tr '\n' ' ')"
  fi
  rows+=("$db|$suite|$status|$detail${why:+ ($why)}|$((SECONDS - t0))")
  if [ "$status" != PASS ]; then
    failed_any=1
    echo "--- $suite on $db: $status; from the runner's output (all of it: $dir/runner.log):"
    # Microsoft: newman's per-request report is long; the runner's own list of failures (with the
    # responses) comes after its "== Microsoft SCIM Tests" line. Okta's output is short.
    if grep -q '^== Microsoft SCIM Tests' "$dir/runner.log"; then
      sed -n '/^== Microsoft SCIM Tests/,$p' "$dir/runner.log"
    else
      cat "$dir/runner.log"
    fi
  fi
}

for db in "${dbs[@]}"; do
  if [ "$db" = postgres ] && [ -n "$pg_missing" ]; then
    rows+=("postgres|microsoft|SKIPPED|no PostgreSQL|0" "postgres|okta|SKIPPED|no PostgreSQL|0")
    continue
  fi
  # Microsoft first: it needs an empty server (each suite has its own database anyway).
  run_suite "$db" microsoft
  run_suite "$db" okta
done

echo
echo "--- conformance: $("$bin" version 2>/dev/null | head -n 1)"
printf '%-9s %-10s %-8s %-5s %s\n' database suite result time detail
for r in "${rows[@]}"; do
  IFS='|' read -r db suite status detail secs <<<"$r"
  printf '%-9s %-10s %-8s %-5s %s\n' "$db" "$suite" "$status" "${secs}s" "$detail"
done
echo "Microsoft requests not run (MS_SKIP; reasons in scripts/conformance.sh):"
printf '  %s\n' "${MS_SKIP_LIST[@]}"
exit "$failed_any"
