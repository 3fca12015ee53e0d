#!/usr/bin/env bash
# A PostgreSQL server of its own for the tests, in one folder (data, socket and log), on 127.0.0.1:
#   scripts/test-postgres.sh start DIR PORT   initializes DIR/data if needed, starts, prints the URL
#   scripts/test-postgres.sh restart DIR      a fast restart (as after a crash or an upgrade)
#   scripts/test-postgres.sh stop DIR
# The server refuses to run as root: as root it runs as Debian's `postgres` user.
set -euo pipefail
command=${1:?start, restart or stop}
dir=${2:?the folder of the server}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [[ -z "$bin" ]]; then
  echo "PostgreSQL is not installed: apt-get install -y postgresql" >&2
  exit 3
fi
server() {
  if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case $command in
  start)
    port=${3:?the port}
    mkdir -p "$dir"
    if [[ $(id -u) == 0 ]]; then chown postgres "$dir"; fi
    if [[ ! -f "$dir/data/PG_VERSION" ]]; then
      server "$bin/initdb" --pgdata "$dir/data" --auth trust --username digitlab --no-sync >"$dir/initdb.log"
    fi
    server "$bin/pg_ctl" --pgdata "$dir/data" --log "$dir/server.log" --wait --silent \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start
    echo "postgres://digitlab@127.0.0.1:$port/postgres"
    ;;
  restart)
    server "$bin/pg_ctl" --pgdata "$dir/data" --log "$dir/server.log" --mode fast --wait --silent restart
    ;;
  stop)
    server "$bin/pg_ctl" --pgdata "$dir/data" --mode fast --wait --silent stop
    ;;
  *)
    echo "unknown command $command: start, restart or stop" >&2
    exit 2
    ;;
esac
