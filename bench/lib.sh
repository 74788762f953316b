# bench/lib.sh — shell functions shared by the bench scripts (sourced, never run).
#
#   . "$(dirname "$0")/lib.sh"      then: bench_workdir; P=$(free_port); sink_start "$P"; ...
#
# Every server a script starts lives under $WORK and is stopped by its own PID in
# bench_cleanup (installed as the EXIT trap by bench_workdir): petrel instances in $WORK/petrel*,
# Postfix instances in $WORK/postfix*, smtp-sink from $WORK/sink.pid. Loopback only.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_ROOT=$(cd "$BENCH_DIR/.." && pwd)
PY=/usr/bin/python3
export PETREL_BIN=${PETREL_BIN:-$BENCH_ROOT/build/petrel}

raise_nofile() { ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"; }

free_port() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# wait_port PORT [TRIES=200]: bounded wait (50 ms steps) until 127.0.0.1:PORT accepts.
wait_port() {
  local i
  for ((i = 0; i < ${2:-200}; i++)); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}

need_petrel() { [ -x "$PETREL_BIN" ] || { echo "no petrel binary at $PETREL_BIN (make build)" >&2; exit 2; }; }

have_postfix() { command -v postfix >/dev/null && [ -z "${SKIP_POSTFIX:-}" ]; }

# bench_workdir: WORK=a fresh directory the postfix user can traverse; cleanup on exit.
bench_workdir() {
  WORK=$(mktemp -d /tmp/petrel-bench.XXXXXX)
  chmod 755 "$WORK"
  trap bench_cleanup EXIT
}

bench_cleanup() {
  [ -n "${WORK:-}" ] && [ -d "$WORK" ] || return 0
  local d
  for d in "$WORK"/petrel*; do [ -d "$d" ] && "$BENCH_DIR/petrel-instance.sh" stop "$d"; done
  for d in "$WORK"/postfix*; do [ -d "$d" ] && "$BENCH_DIR/postfix-instance.sh" stop "$d"; done
  sink_stop
  rm -rf "$WORK"
  return 0
}

# smtp-sink (Postfix's accept-and-discard server) on 127.0.0.1:PORT; PID in $WORK/sink.pid.
sink_start() {
  /usr/sbin/smtp-sink -u nobody -m 1024 "127.0.0.1:$1" 1024 </dev/null >/dev/null 2>&1 &
  echo $! >"$WORK/sink.pid"
  wait_port "$1" || { echo "smtp-sink did not listen on $1" >&2; return 1; }
}
sink_stop() {
  [ -f "$WORK/sink.pid" ] || return 0
  local pid; pid=$(cat "$WORK/sink.pid")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true   # reaps it when this shell started it
  rm -f "$WORK/sink.pid"
  return 0
}

# machine_facts: markdown bullet lines (date, machine, disk, load, petrel revision, Postfix).
machine_facts() {
  local cpu mem rev dirty pfv fs dev rot
  cpu=$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)
  mem=$(awk '/^MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo)
  rev=$(git -C "$BENCH_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
  dirty=$(git -C "$BENCH_ROOT" status --porcelain 2>/dev/null | grep -q . && echo " + uncommitted changes" || true)
  pfv=$(postconf -d -h mail_version 2>/dev/null || echo "not installed")
  read -r dev fs < <(df -PT /tmp 2>/dev/null | awk 'NR==2{print $1, $2}')
  rot=$(cat "/sys/block/$(basename "$dev")/queue/rotational" 2>/dev/null || echo "?")
  echo "- date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "- machine: $(nproc) CPUs ($cpu), $mem RAM, kernel $(uname -r)"
  echo "- disk: $dev ($fs; rotational=$rot, write cache: $(cat "/sys/block/$(basename "$dev")/queue/write_cache" 2>/dev/null || echo "?"))"
  echo "- load average: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews the figures)"
  echo "- petrel: $rev$dirty, $PETREL_BIN; Postfix $pfv"
}
