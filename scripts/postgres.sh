#!/usr/bin/env bash
# Throwaway PostgreSQL for tests.
#
#   scripts/postgres.sh start DIR   initdb into DIR/data, start on a free loopback port,
#                                   print postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
#   scripts/postgres.sh stop DIR    stop it and remove DIR
#   scripts/postgres.sh bindir      print the PostgreSQL bin directory, or fail
#
# Only the URL goes to standard output; progress and errors go to standard error.
# The server trusts local and loopback connections, listens on 127.0.0.1 only, keeps
# its socket inside DIR and runs with fsync off: for tests, never for data you keep.
set -euo pipefail

marker=.onramp-postgres

die() {
  echo "postgres.sh: $*" >&2
  exit 1
}

usage() {
  echo "usage: $0 start DIR | stop DIR | bindir" >&2
  exit 2
}

# bindir prints where initdb, pg_ctl and postgres live: version 15 first, then what
# pg_config says, then the newest version installed.
bindir() {
  local d
  if [ -x /usr/lib/postgresql/15/bin/initdb ]; then
    echo /usr/lib/postgresql/15/bin
    return 0
  fi
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$d" ] && [ -x "$d/initdb" ]; then
      echo "$d"
      return 0
    fi
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4 -n -r); do
    if [ -x "$d/initdb" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

# as_user runs a command as $pguser, or directly when we are not root.
as_user() {
  if [ "$(id -u)" -ne 0 ]; then
    "$@"
  elif command -v runuser >/dev/null 2>&1; then
    runuser -u "$pguser" -- "$@"
  else
    setpriv --reuid="$pguser" --regid="$(id -g "$pguser")" --init-groups -- "$@"
  fi
}

# free_port asks the kernel for a free TCP port on 127.0.0.1.
free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()' && return 0
  fi
  # No python3: probe random high ports until one has no listener.
  local p i
  for i in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    if command -v ss >/dev/null 2>&1; then
      [ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
    elif ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

start() {
  local dir=$1 bin port attempt
  bin=$(bindir) || die "no PostgreSQL server binaries found (looked in /usr/lib/postgresql/15/bin, pg_config --bindir, /usr/lib/postgresql/*/bin); install them with: apt-get install -y postgresql"

  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  [ -e "$dir/data" ] && die "$dir/data already exists; stop that server first (scripts/postgres.sh stop $dir)"
  touch "$dir/$marker"

  # initdb and postgres refuse to run as root: hand DIR to an unprivileged user.
  pguser=$(id -un)
  if [ "$(id -u)" -eq 0 ]; then
    if id postgres >/dev/null 2>&1; then pguser=postgres; else pguser=nobody; fi
    chown -R "$pguser:$(id -gn "$pguser")" "$dir"
    as_user test -w "$dir" || die "user $pguser cannot write to $dir (is a parent directory private?); choose a DIR under /tmp"
  fi

  echo "postgres.sh: initdb into $dir/data as $pguser ($bin)" >&2
  as_user "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync --no-instructions \
    >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }

  # The port is free when we ask, but another process could take it before the
  # server binds it: try a few ports before giving up.
  for attempt in 1 2 3 4 5; do
    port=$(free_port) || die "could not find a free TCP port"
    cat >"$dir/data/onramp.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
fsync = off
full_page_writes = off
synchronous_commit = off
EOF
    grep -q "^include_if_exists = 'onramp.conf'" "$dir/data/postgresql.conf" ||
      echo "include_if_exists = 'onramp.conf'" >>"$dir/data/postgresql.conf"
    if as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 60 start >/dev/null; then
      if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 30; then
        echo "$port" >"$dir/port"
        echo "postgres.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') ready on 127.0.0.1:$port (log: $dir/postgres.log)" >&2
        echo "postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
        return 0
      fi
      as_user "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    echo "postgres.sh: start on port $port failed (attempt $attempt)" >&2
  done
  tail -n 20 "$dir/postgres.log" >&2 || true
  die "PostgreSQL did not start; see $dir/postgres.log"
}

stop() {
  local dir=$1 bin
  [ -d "$dir" ] || return 0
  [ -e "$dir/$marker" ] || die "$dir was not made by 'postgres.sh start'; not removing it"
  if [ -f "$dir/data/postmaster.pid" ] && bin=$(bindir); then
    pguser=$(stat -c %U "$dir/data")
    as_user "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null ||
      echo "postgres.sh: pg_ctl stop failed; removing $dir anyway" >&2
  fi
  rm -rf "$dir"
}

[ $# -ge 1 ] || usage
case "$1" in
  start) [ $# -eq 2 ] || usage; start "$2" ;;
  stop) [ $# -eq 2 ] || usage; stop "$2" ;;
  bindir) [ $# -eq 1 ] || usage; bindir || die "no PostgreSQL server binaries found; install them with: apt-get install -y postgresql" ;;
  *) usage ;;
esac
