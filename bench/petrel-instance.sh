#!/usr/bin/env bash
# petrel-instance.sh — a private petrel for the benchmarks, on loopback only.
#
#   petrel-instance.sh start DIR MX_PORT   write DIR/petrel.toml, start `petrel serve`, wait for
#                                          the port; PID in DIR/petrel.pid, output in DIR/petrel.log
#   petrel-instance.sh stop  DIR           SIGTERM the PID from DIR/petrel.pid, SIGKILL after 10 s
#   petrel-instance.sh pid   DIR
#
# The config raises the connection limits (10,000 idle connections need them) and uses sandbox
# delivery, so nothing is ever delivered: the benchmark measures accepting, which is what the
# 250 promises (the message is fsynced in the spool first). RLIMIT_NOFILE is raised as far as
# the hard limit allows. PETREL_BIN overrides the binary (default: <repo>/build/petrel);
# LOG_LEVEL sets log_level (default warn: no line per connection); DELIVERY_MODE the delivery
# mode (default sandbox); DNS_SERVER a [dns] server (e.g. a closed loopback port, so delivery in
# mode mx cannot proceed); START_TRIES the wait for the port in 50 ms steps (default 200).
set -euo pipefail
cmd=${1:?usage: petrel-instance.sh start|stop|pid DIR [MX_PORT]}
DIR=$(mkdir -p "${2:?DIR}" && cd "$2" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${PETREL_BIN:-$HERE/../build/petrel}

case $cmd in
start)
  PORT=${3:?MX_PORT}
  [ -x "$BIN" ] || { echo "petrel binary not found: $BIN" >&2; exit 2; }
  # Submission listeners on kernel-picked ports (port 0): only mx is benchmarked.
  cat >"$DIR/petrel.toml" <<EOF
data_dir = "$DIR/data"
hostname = "mx.bench.test"
log_level = "${LOG_LEVEL:-warn}"

[[listener]]
kind = "mx"
address = "127.0.0.1:$PORT"

[domains]
local = ["bench.test"]
relay = ["relay.bench.test"]  # backlog.sh: remote mail that cannot leave

[delivery]
mode = "${DELIVERY_MODE:-sandbox}"
$([ -n "${DNS_SERVER:-}" ] && printf '\n[dns]\nservers = ["%s"]\n' "$DNS_SERVER")

[authentication]
enabled = false  # no SPF/DKIM/DMARC checks: the Postfix baseline runs without milters either

[limits]
max_connections = 100000
max_connections_per_ip = 100000
EOF
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  "$BIN" serve --config "$DIR/petrel.toml" </dev/null >"$DIR/petrel.log" 2>&1 &
  echo $! >"$DIR/petrel.pid"
  # Wait (bounded) until the port accepts, not a fixed sleep.
  for _ in $(seq 1 "${START_TRIES:-200}"); do
    if ! kill -0 "$(cat "$DIR/petrel.pid")" 2>/dev/null; then
      echo "petrel exited during start-up:" >&2; cat "$DIR/petrel.log" >&2; exit 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
      echo "petrel pid $(cat "$DIR/petrel.pid") on 127.0.0.1:$PORT (nofile $(ulimit -n))"
      exit 0
    fi
    sleep 0.05
  done
  echo "petrel did not listen on $PORT within $(( ${START_TRIES:-200} / 20 )) s" >&2; exit 1
  ;;
stop)
  [ -f "$DIR/petrel.pid" ] || exit 0
  pid=$(cat "$DIR/petrel.pid")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$pid" 2>/dev/null; then echo "petrel $pid ignored SIGTERM; SIGKILL" >&2; kill -KILL "$pid"; fi
  fi
  rm -f "$DIR/petrel.pid"
  ;;
pid) cat "$DIR/petrel.pid" ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
