#!/usr/bin/env bash
# relay.sh — end-to-end relay throughput (issue 4 "Benchmark"): load generator → MTA → sinks,
# petrel and a private Postfix in the same run, with the same load; msg/s from the first
# message submitted to the last one received by the sinks. Target: petrel ≥ 3× Postfix.
#
#   bench/relay.sh [--quick] [--reps R] [--markdown FILE | --no-markdown]
#     env: PETREL_BIN (default build/petrel), N=20000 messages (--quick: 2000), SESSIONS=20,
#          SIZE=1024, REPS=1 (runs per server, alternating petrel/Postfix; median reported),
#          TIMEOUT=600 (s, hard cap per run), PETREL_CONNECTIONS=20, SKIP_POSTFIX=1,
#          LOGS=DIR (keep each run's petrel log / Postfix maillog there), LOG_LEVEL (petrel's),
#          PETREL_AUTH_CHECKS=true (petrel checks SPF/DKIM/DMARC on the inbound mail; default off)
#   Appends a dated section to bench/RESULTS.md unless --no-markdown (or to --markdown FILE).
#
# Choices (also written into the RESULTS.md section):
# - Five recipient domains d1..d5.relay.test, ONE recipient per message. smtp-source sends one
#   address per run, so five smtp-source processes run side by side, one per domain, each
#   with SESSIONS/5 sessions and N/5 messages: 20 sessions in all, every domain gets N/5.
#   One message per connection (no -d), SIZE bytes of body, as in queue-accept.sh.
# - One smtp-sink per domain on 127.0.0.1:<free port>, with -c (running counters on stdout).
#   The end time is when the five counters add up to N (sink_count.py polls them every 10 ms);
#   afterwards the MTA's queue must be empty (bounded wait) or the run is marked. (Not -M: a
#   sink that exits at its count drops the connection before its last 250, so the MTA keeps
#   one deferred message per sink.)
# - Routing without DNS: petrel has a [[delivery.route]] per domain (smart host = that sink,
#   tls = "none"), mode "mx" with [dns] pointed at a closed port so nothing can leak; Postfix
#   has transport_maps (texthash) "dK.relay.test smtp:[127.0.0.1]:PORT" with qmgr and smtp in
#   master.cf (postfix-instance.sh relay). Five sink ports = five destinations on each side.
# - Concurrency: Postfix keeps its defaults (default_destination_concurrency_limit = 20 per
#   destination, with its slow start; in_flow_delay 1 s; connection cache on demand). petrel's
#   [delivery] max_connections default is 10 per destination; it is set to 20 here to match
#   (PETREL_CONNECTIONS). petrel keeps messages_per_connection = 100 and idle_timeout 5 s.
# - No inbound checks: petrel's [authentication] (SPF/DKIM/DMARC on mx mail) is off, as
#   Postfix runs without milters (PETREL_AUTH_CHECKS=true turns them on, DNS then fails fast).
# - Durability: both as shipped. Postfix fsyncs each queue file before its 250; petrel appends
#   each message to its segment log (spool/segments/, spool format 3) and fdatasyncs it before
#   its 250 (one sync per group of concurrent commits), and records each delivery durably (a
#   delivered message leaves by a tombstone, synced in groups). No TLS on either hop.
# - petrel runs first, then Postfix, each with fresh sinks and a fresh queue; REPS alternates.
# Loopback only; every process is started here and stopped by its own PID (EXIT trap).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
MD=$HERE/RESULTS.md; QUICK=0; REPS=${REPS:-1}
while [ $# -gt 0 ]; do
  case $1 in
    --quick) QUICK=1; shift ;;
    --reps) REPS=${2:?--reps R}; shift 2 ;;
    --markdown) MD=${2:?--markdown FILE}; shift 2 ;;
    --no-markdown) MD=""; shift ;;
    *) echo "usage: relay.sh [--quick] [--reps R] [--markdown FILE | --no-markdown]" >&2; exit 2 ;;
  esac
done
N=${N:-$([ $QUICK = 1 ] && echo 2000 || echo 20000)}
SESSIONS=${SESSIONS:-20}; SIZE=${SIZE:-1024}; TIMEOUT=${TIMEOUT:-600}
PETREL_CONNECTIONS=${PETREL_CONNECTIONS:-20}
DOMAINS=5
[ $((N % DOMAINS)) = 0 ] && [ $((SESSIONS % DOMAINS)) = 0 ] \
  || { echo "N and SESSIONS must be multiples of $DOMAINS" >&2; exit 2; }
PER_DOMAIN=$((N / DOMAINS)); SESS_PER_DOMAIN=$((SESSIONS / DOMAINS))
SRC=/usr/sbin/smtp-source; SINK=/usr/sbin/smtp-sink
[ -x "$SRC" ] && [ -x "$SINK" ] || { echo "smtp-source/smtp-sink missing (Debian package postfix)" >&2; exit 2; }
raise_nofile
need_petrel
bench_workdir
SINK_PIDS=(); SOURCE_PIDS=()
relay_cleanup() {
  local p
  for p in "${SOURCE_PIDS[@]}" "${SINK_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${SOURCE_PIDS[@]}" "${SINK_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  bench_cleanup
}
trap relay_cleanup EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN{d=b-a; printf "%.0f", (d>0? n/d : 0)}'; }
domain() { echo "d$1.relay.test"; }

# start_sinks: one counting smtp-sink per domain (counters in $WORK/sinkK.out); SINK_PORTS[k].
start_sinks() {
  local k
  SINK_PIDS=(); SINK_PORTS=()
  for k in $(seq 1 $DOMAINS); do
    SINK_PORTS[k]=$(free_port)
    "$SINK" -u nobody -c -m 1024 "127.0.0.1:${SINK_PORTS[k]}" 1024 </dev/null >"$WORK/sink$k.out" 2>&1 &
    SINK_PIDS+=($!)
  done
  for k in $(seq 1 $DOMAINS); do wait_port "${SINK_PORTS[k]}" || { echo "smtp-sink did not listen" >&2; return 1; }; done
}
stop_sinks() {
  local p
  for p in "${SINK_PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  SINK_PIDS=()
}

start_petrel() {  # DIR PORT
  local d=$1 k
  mkdir -p "$d"
  {
    echo "data_dir = \"$d/data\""
    echo 'hostname = "mx.bench.test"'
    echo "log_level = \"${LOG_LEVEL:-warn}\""
    echo; echo '[[listener]]'; echo 'kind = "mx"'; echo "address = \"127.0.0.1:$2\""
    echo; echo '[domains]'; echo 'local = ["bench.test"]'
    printf 'relay = ['; for k in $(seq 1 $DOMAINS); do printf '"%s"%s' "$(domain "$k")" "$([ "$k" -lt $DOMAINS ] && echo ', ')"; done; echo ']'
    echo; echo '[delivery]'; echo 'mode = "mx"'; echo 'tls = "none"'
    echo "max_connections = $PETREL_CONNECTIONS   # default 10; Postfix's per-destination default is 20"
    for k in $(seq 1 $DOMAINS); do
      echo; echo '[[delivery.route]]'; echo "domains = [\"$(domain "$k")\"]"
      echo "smarthost = \"127.0.0.1:${SINK_PORTS[k]}\""; echo 'tls = "none"'
    done
    echo; echo '[dns]'; echo 'servers = ["127.0.0.1:9"]   # closed: the routes need no DNS'
    echo; echo '[authentication]'
    echo "enabled = ${PETREL_AUTH_CHECKS:-false}   # SPF/DKIM/DMARC on mx mail; the Postfix baseline has no milters"
    echo; echo '[limits]'; echo 'max_connections_per_ip = 1000'
  } >"$d/petrel.toml"
  "$PETREL_BIN" serve --config "$d/petrel.toml" </dev/null >"$d/petrel.log" 2>&1 &
  echo $! >"$d/petrel.pid"   # bench_cleanup stops it by this PID (petrel-instance.sh stop)
  wait_port "$2" || { echo "petrel did not listen on $2:" >&2; cat "$d/petrel.log" >&2; return 1; }
}
# Live messages in petrel's spool, counted on disk: whole records in spool/segments/*.log
# without a tombstone in the matching .removed file (spool format 3; spool_count.py).
petrel_queued() { $PY "$HERE/spool_count.py" "$1/data" 2>/dev/null || echo "?"; }

# run_one petrel|postfix -> "total_s accept_s msg/s cpu conns flags" (msg/s = N / total_s;
# cpu = petrel's user+system CPU ms per message, from /proc; "-" for Postfix, whose work is
# spread over short-lived processes; conns = connections the MTA made to the sinks)
run_one() {
  local who=$1 port t0 t1 t2 k p rc=0 got q flags="" cpu=- pid
  start_sinks
  port=$(free_port)
  if [ "$who" = petrel ]; then
    rm -rf "$WORK/petrel"; start_petrel "$WORK/petrel" "$port"
  else
    for k in $(seq 1 $DOMAINS); do echo "$(domain "$k") smtp:[127.0.0.1]:${SINK_PORTS[k]}"; done >"$WORK/transport"
    "$HERE/postfix-instance.sh" relay "$WORK/postfix" "$port" "$WORK/transport" >/dev/null
  fi
  SOURCE_PIDS=()
  t0=$(now)
  for k in $(seq 1 $DOMAINS); do
    timeout "$TIMEOUT" "$SRC" -s "$SESS_PER_DOMAIN" -m "$PER_DOMAIN" -l "$SIZE" -M bench.test \
      -f sender@bench.test -t "user@$(domain "$k")" "127.0.0.1:$port" >>"$WORK/source-$who.log" 2>&1 &
    SOURCE_PIDS+=($!)
  done
  for p in "${SOURCE_PIDS[@]}"; do wait "$p" || rc=$?; done
  SOURCE_PIDS=()
  t1=$(now)
  [ "$rc" = 0 ] || flags+=" source:rc=$rc"
  read -r t2 got _ < <($PY "$HERE/sink_count.py" --total "$N" --timeout "$TIMEOUT" "$WORK"/sink?.out || true)
  [ "$got" = "$N" ] || flags+=" sinks:got=$got/$N"
  # The sinks have every message; the MTA must also have forgotten them (bounded wait).
  for _ in $(seq 1 100); do
    if [ "$who" = petrel ]; then q=$(petrel_queued "$WORK/petrel"); else q=$("$HERE/postfix-instance.sh" count "$WORK/postfix"); fi
    [ "$q" = 0 ] && break; sleep 0.1
  done
  [ "$q" = 0 ] || flags+=" $who:queue=$q"
  if [ "$who" = petrel ]; then
    pid=$(cat "$WORK/petrel/petrel.pid")
    if [ -r "/proc/$pid/stat" ]; then
      cpu=$(awk -v hz="$(getconf CLK_TCK)" -v n="$N" '{sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) * 1000 / hz / n}' "/proc/$pid/stat")
    else flags+=" petrel:died"; fi
    [ -n "${LOGS:-}" ] && cp "$WORK/petrel/petrel.log" "$LOGS/petrel-$(date +%H%M%S).log"
    "$HERE/petrel-instance.sh" stop "$WORK/petrel"
  else
    [ -n "${LOGS:-}" ] && cp "$WORK/postfix/maillog" "$LOGS/postfix-$(date +%H%M%S).log"
    "$HERE/postfix-instance.sh" stop "$WORK/postfix"
  fi
  # The MTA has closed its connections (QUIT on stop): the sinks' session count is final.
  sleep 0.2
  read -r _ _ conns < <($PY "$HERE/sink_count.py" --total 0 "$WORK"/sink?.out)
  stop_sinks
  echo "$(secs "$t0" "$t2") $(secs "$t0" "$t1") $(rate "$N" "$t0" "$t2") $cpu $conns${flags}"
}

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{v[NR]=$1} END{if(NR==0) print "-"; else print v[int((NR+1)/2)]}'; }

HAVE_PF=0; have_postfix && HAVE_PF=1
echo "relay benchmark: N=$N messages of $SIZE bytes, $SESSIONS sessions, $DOMAINS domains, $REPS run(s) each"
ROWS=$WORK/rows.md; : >"$ROWS"; PETS=""; PFS=""
for rep in $(seq 1 "$REPS"); do
  for who in petrel $([ $HAVE_PF = 1 ] && echo postfix); do
    load=$(cut -d' ' -f1-3 /proc/loadavg)
    run_one "$who" >"$WORK/result"   # in this shell, so the EXIT trap knows its PIDs
    read -r total accept r cpu conns flags <"$WORK/result" || true
    printf '%-8s run %s: %s msg/s end to end (%s s; all accepted after %s s; CPU ms/msg %s; %s connections to the sinks)  load before: %s %s\n' \
      "$who" "$rep" "$r" "$total" "$accept" "$cpu" "$conns" "$load" "${flags:-}"
    echo "| $who | $rep | $N | $accept | $total | $r | $cpu | $conns | $load | ${flags:-} |" >>"$ROWS"
    if [ -z "${flags:-}" ]; then [ "$who" = petrel ] && PETS+=" $r" || PFS+=" $r"; fi
  done
done
PET=$(echo "$PETS" | median); PF=$(echo "$PFS" | median)
RATIO=$(awk -v a="$PET" -v b="$PF" 'BEGIN{ if (a=="-"||b=="-"||b==0) print "-"; else printf "%.2f×", a/b }')
echo "petrel $PET msg/s, Postfix $PF msg/s, petrel/Postfix $RATIO (target ≥ 3×)"

if [ -n "$MD" ]; then
  {
    echo
    echo "## End-to-end relay, smtp-source → MTA → smtp-sink (bench/relay.sh$([ $QUICK = 1 ] && echo ' --quick'))"
    echo
    machine_facts
    echo
    echo "$N messages of $SIZE bytes, one recipient each, spread evenly over five domains"
    echo "d1..d5.relay.test (five smtp-source processes side by side, one per domain, $SESS_PER_DOMAIN sessions"
    echo "each: $SESSIONS sessions, one message per connection). Each domain is routed to its own"
    echo "smtp-sink on loopback (petrel: \`[[delivery.route]]\`; Postfix: \`transport_maps\`), counting"
    echo "with -c. msg/s = N / (first message submitted → the sinks' counters add up to N);"
    echo "\"accepted\" is when every smtp-source had its 250s. Both queues were checked empty at the"
    echo "end (petrel: no live record left in its segment log). Both with default durability (fsync"
    echo "before 250; petrel: records appended to its segment log, one fdatasync per group commit),"
    echo "no TLS, no DNS, no inbound checks"
    echo "(petrel \`[authentication] enabled = ${PETREL_AUTH_CHECKS:-false}\`; Postfix without milters). Concurrency per"
    echo "destination: Postfix default (20, slow start); petrel \`max_connections = $PETREL_CONNECTIONS\`"
    echo "(its default is 10). Runs alternate petrel, Postfix. Target (issue 4): petrel ≥ 3× Postfix."
    echo
    echo "\"CPU ms/msg\": petrel's own user+system CPU time per message (receive, spool, deliver)."
    echo "\"connections\": SMTP sessions the MTA opened to the sinks (connection reuse)."
    echo
    echo "| server | run | messages | all accepted (s) | last delivered (s) | msg/s end to end | CPU ms/msg | connections | load average before | notes |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    cat "$ROWS"
    echo
    echo "Median: petrel $PET msg/s, Postfix $PF msg/s, **petrel/Postfix $RATIO**."
  } >>"$MD"
  echo "appended to $MD"
fi
