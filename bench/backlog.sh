#!/usr/bin/env bash
# backlog.sh — a large backlog in petrel's queue (issue 3 "Benchmark"): fill the spool with N
# small messages that cannot be delivered, then report petrel's memory, the spool's disk use,
# the time of one `petrel queue list` page, and how long a restart takes to recover the spool.
#
#   bench/backlog.sh [N=1000000] [--markdown FILE]
#     env: PETREL_BIN, SESSIONS=100 (smtp-source -s), SIZE=1024 (-l), FILL_TIMEOUT=3600 (s),
#          RECOVER_TIMEOUT=300 (s)
#
# Delivery cannot proceed: delivery mode mx with the only DNS server on a closed loopback port,
# so every message stays queued (none is captured or delivered). The fill uses smtp-source with
# connection reuse (-d): this measures the queue, not connection set-up. Figures:
#   RSS       VmRSS and VmHWM (peak) from /proc/PID/status after the fill, and after the restart
#   disk      du of data/spool; messages = whole live records in the segment log
#             (spool/segments/<n>.log, spool format 3; counted on disk by spool_count.py) and
#             the number of segments
#   list      wall time of `petrel queue list --limit 100` against the running daemon (skipped if
#             the binary has no `queue` command)
#   restart   SIGTERM, start again: seconds until the "queue recovered" log line (if petrel writes
#             one) and until the SMTP port accepts
# Loopback only; petrel is stopped by its PID; every wait is bounded.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
N=1000000; MD=""
while [ $# -gt 0 ]; do
  case $1 in
    --markdown) MD=${2:?--markdown FILE}; shift 2 ;;
    [0-9]*) N=$1; shift ;;
    *) echo "usage: backlog.sh [N] [--markdown FILE]" >&2; exit 2 ;;
  esac
done
SESSIONS=${SESSIONS:-100}; SIZE=${SIZE:-1024}
FILL_TIMEOUT=${FILL_TIMEOUT:-3600}; RECOVER_TIMEOUT=${RECOVER_TIMEOUT:-300}
raise_nofile
need_petrel
bench_workdir
export DELIVERY_MODE=mx DNS_SERVER="127.0.0.1:$(free_port)"  # nothing listens there
D=$WORK/petrel
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }
status_kib() { awk -v k="$2:" '$1==k{print $2}' "/proc/$1/status"; }

PORT=$(free_port)
"$BENCH_DIR/petrel-instance.sh" start "$D" "$PORT"
PID=$("$BENCH_DIR/petrel-instance.sh" pid "$D")
RSS0=$(status_kib "$PID" VmRSS)

echo "== fill: $N messages of $SIZE bytes, $SESSIONS sessions"
t0=$(now); rc=0
timeout "$FILL_TIMEOUT" /usr/sbin/smtp-source -d -s "$SESSIONS" -m "$N" -l "$SIZE" -M bench.test \
  -f sender@bench.test -t rcpt@relay.bench.test "127.0.0.1:$PORT" >"$WORK/source.log" 2>&1 || rc=$?
t1=$(now)
kill -0 "$PID" 2>/dev/null || { echo "petrel died during the fill:" >&2; tail -20 "$D/petrel.log" >&2; exit 1; }
COUNT=$($PY "$BENCH_DIR/spool_count.py" "$D/data" --detail)   # live=N removed=N segments=N ...
QUEUED=$(echo "$COUNT" | sed -n 's/^live=\([0-9]*\) .*/\1/p')
SEGMENTS=$(echo "$COUNT" | sed -n 's/.* segments=\([0-9]*\) .*/\1/p')
FILL_S=$(secs "$t0" "$t1")
FILL_RATE=$(awk -v n="$QUEUED" -v d="$FILL_S" 'BEGIN{printf "%.0f", n/d}')
[ "$rc" = 0 ] || echo "smtp-source exited $rc (124: FILL_TIMEOUT); $(tail -3 "$WORK/source.log")"
echo "queued $QUEUED in $FILL_S s ($FILL_RATE msg/s); spool: $COUNT"
RSS1=$(status_kib "$PID" VmRSS); HWM1=$(status_kib "$PID" VmHWM)
DU=$(du -sk "$D/data/spool" 2>/dev/null | cut -f1 || true)

LIST="n/a (no \`petrel queue\` in this binary)"
if "$PETREL_BIN" queue --help >/dev/null 2>&1; then
  t0=$(now)
  if timeout 120 "$PETREL_BIN" queue list --limit 100 --config "$D/petrel.toml" >"$WORK/list.out" 2>&1; then
    LIST="$(secs "$t0" "$(now)") s ($(grep -c . "$WORK/list.out") lines; $(tail -2 "$WORK/list.out" | head -1))"
  else
    LIST="failed after $(secs "$t0" "$(now)") s: $(tail -1 "$WORK/list.out")"
  fi
fi
echo "queue list --limit 100: $LIST"

echo "== restart"
"$BENCH_DIR/petrel-instance.sh" stop "$D"
mv "$D/petrel.log" "$D/petrel-fill.log"
t0=$(now)
LOG_LEVEL=info START_TRIES=$((RECOVER_TIMEOUT * 20)) "$BENCH_DIR/petrel-instance.sh" start "$D" "$PORT" >/dev/null
PORT_S=$(secs "$t0" "$(now)")
PID=$("$BENCH_DIR/petrel-instance.sh" pid "$D")
REC_S="no \"queue recovered\" log line within ${RECOVER_TIMEOUT} s"
for _ in $(seq 1 $((RECOVER_TIMEOUT * 20))); do
  if grep -q "queue recovered" "$D/petrel.log"; then REC_S="$(secs "$t0" "$(now)") s"; break; fi
  kill -0 "$PID" 2>/dev/null || break
  sleep 0.05
done
REC_LINE=$(grep -m1 "queue recovered" "$D/petrel.log" | sed 's/^.*queue recovered/queue recovered/' || true)
sleep 1
RSS2=$(status_kib "$PID" VmRSS); HWM2=$(status_kib "$PID" VmHWM)
echo "port answers after $PORT_S s; recovery: $REC_S ${REC_LINE:+($REC_LINE)}"
"$BENCH_DIR/petrel-instance.sh" stop "$D"

mib() { awk -v k="$1" 'BEGIN{printf "%.1f MiB", k/1024}'; }
REPORT=$(cat <<EOF
| figure | value |
|---|---|
| messages queued (live records in spool/segments/) | $QUEUED of $N, ${SIZE}-byte bodies, in $SEGMENTS segment(s) |
| fill | $FILL_S s, $FILL_RATE msg/s ($SESSIONS sessions, connection reuse) |
| RSS before the fill | $(mib "$RSS0") |
| RSS after the fill (peak) | $(mib "$RSS1") ($(mib "$HWM1")) |
| disk use of data/spool (du) | $(mib "$DU") ($(awk -v k="$DU" -v n="$QUEUED" 'BEGIN{if(n>0) printf "%.1f", k/n; else print "-"}') KiB/message) |
| \`petrel queue list --limit 100\` | $LIST |
| restart: SMTP port answers | $PORT_S s |
| restart: "queue recovered" log line | $REC_S ${REC_LINE:+— \`$REC_LINE\`} |
| RSS after the restart (peak) | $(mib "$RSS2") ($(mib "$HWM2")) |
EOF
)
echo "$REPORT"
if [ -n "$MD" ]; then
  {
    echo
    echo "## Backlog of $QUEUED messages (bench/backlog.sh $N)"
    echo
    machine_facts
    echo
    echo "Delivery cannot proceed (mode mx, DNS server on a closed port), so every message stays"
    echo "queued. Targets (issue 3): RSS < 1 GiB, \`petrel queue list\` usable, restart recovers"
    echo "the whole spool in < 60 s."
    echo
    echo "$REPORT"
  } >>"$MD"
  echo "appended to $MD"
fi
