#!/usr/bin/env bash
# run.sh — petrel's benchmark: memory per idle connection and transaction latency, each beside
# a private Postfix in the same run, written to bench/RESULTS.md with the machine and date
# (the sections queue-accept.sh and backlog.sh appended there are kept).
#
#   bench/run.sh            env: PETREL_BIN (default build/petrel), N=10000 idle connections,
#                                COUNT=2000 transactions per setting, OUT=bench/RESULTS.md
# Not a test: it measures. Every server it starts is stopped by its PID; every step is bounded.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
N=${N:-10000}; COUNT=${COUNT:-2000}; OUT=${OUT:-$HERE/RESULTS.md}
raise_nofile
need_petrel
bench_workdir

echo "### idle connections"
: >"$WORK/idle.md"
MARKDOWN="$WORK/idle.md" "$HERE/idle-rss.sh" "$N" 300 || echo "(idle-rss.sh reported a problem)"

echo "### latency"
P=$(free_port); PP=$(free_port)
"$HERE/petrel-instance.sh" start "$WORK/petrel" "$P"
HAVE_PF=0
if have_postfix && "$HERE/postfix-instance.sh" start "$WORK/postfix" "$PP"; then HAVE_PF=1; fi
TARGETS=("petrel=127.0.0.1:$P"); [ $HAVE_PF = 1 ] && TARGETS+=("postfix=127.0.0.1:$PP")
PID=$("$HERE/petrel-instance.sh" pid "$WORK/petrel")
timeout 900 $PY "$HERE/latency.py" --count "$COUNT" --concurrency 1,20 --time-limit 120 \
  --server-pid "petrel=$PID" --markdown "$WORK/latency.md" "${TARGETS[@]}" \
  || echo "(latency.py reported a problem)"
kill -0 "$PID" 2>/dev/null || echo "petrel died during the latency run"
"$HERE/petrel-instance.sh" stop "$WORK/petrel"
[ $HAVE_PF = 1 ] && "$HERE/postfix-instance.sh" stop "$WORK/postfix"

# Sections appended by queue-accept.sh, backlog.sh and relay.sh (headings name the script) are kept.
KEPT=$WORK/kept.md; : >"$KEPT"
[ -f "$OUT" ] && awk '/^## .*\(bench\/(queue-accept|backlog|relay)\.sh/{keep=1} keep' "$OUT" >"$KEPT"
{
  echo "# Benchmark results"
  echo
  echo "Produced by \`bench/run.sh\` (do not edit by hand; re-run it). Client and servers share"
  echo "the machine; everything is on loopback."
  echo
  machine_facts
  echo
  echo "## Memory per idle connection (each past EHLO)"
  echo
  echo "petrel holds $N connections, spread over 127.0.0.2-251 as source addresses; Postfix"
  echo "(one smtpd process per connection) 300. Per connection = (during - before) / connections,"
  echo "RSS from /proc/PID/status, PSS and private (clean + dirty) from /proc/PID/smaps_rollup,"
  echo "summed over the server's processes. Target for petrel: ≤ 16 KiB."
  echo
  echo "| server | connections | still open after hold | RSS before KiB | RSS during KiB | RSS/conn KiB | PSS/conn KiB | private/conn KiB | processes |"
  echo "|---|---|---|---|---|---|---|---|---|"
  cat "$WORK/idle.md"
  echo
  echo "## Latency of one transaction (connect → 250 queued)"
  echo
  echo "connect, greeting, EHLO, MAIL, RCPT, DATA, 1 KiB message, \"250 queued\" (timed), then"
  echo "QUIT (untimed); a new connection per transaction; $COUNT transactions per setting after a"
  echo "warm-up, 3 repetitions alternating between the servers (the median one is shown, with"
  echo "the range of p50 and p99 over the repetitions; \"transactions\" counts all of them)."
  echo "petrel: sandbox delivery (message fsynced in the spool before 250, never delivered)."
  echo "Postfix: queue manager off (accept only, queue file fsynced before 250), in_flow_delay=0,"
  echo "no TLS, no DNS. Ratio columns: this server's figure / petrel's."
  echo "One Python asyncio process generates the load; \"client CPU\" is its CPU use during the"
  echo "setting: near 100 % means the client, not the server, limits the rate, and the ratio"
  echo "understates the difference. \"server CPU\" is petrel's user+system CPU time per"
  echo "transaction (Postfix spreads its work over many processes: not measured)."
  echo
  cat "$WORK/latency.md" 2>/dev/null || echo "(latency run failed)"
  if [ -s "$KEPT" ]; then echo; cat "$KEPT"; fi
} >"$OUT"
echo "wrote $OUT"
cat "$OUT"
