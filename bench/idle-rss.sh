#!/usr/bin/env bash
# idle-rss.sh — memory per idle connection: petrel with N (default 10000) connections held
# past EHLO, and Postfix (a private instance) with N_POSTFIX (default 300; one process each, so
# fewer) in the same run.
#
#   bench/idle-rss.sh [N] [N_POSTFIX]        env: PETREL_BIN, MARKDOWN=FILE (append table rows),
#                                                 SKIP_POSTFIX=1
# Bounded: each measurement has a time limit; every server started here is stopped by its PID.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
N=${1:-10000}; NPF=${2:-300}
raise_nofile
bench_workdir
MD_ARGS=(); [ -n "${MARKDOWN:-}" ] && MD_ARGS=(--markdown "$MARKDOWN")

echo "== petrel: $N idle connections (nofile $(ulimit -n))"
P=$(free_port)
"$HERE/petrel-instance.sh" start "$WORK/petrel" "$P"
PID=$("$HERE/petrel-instance.sh" pid "$WORK/petrel")
rc=0
timeout 400 $PY "$HERE/idle_conns.py" --port "$P" --pid "$PID" -n "$N" --hold 5 \
  --label petrel --time-limit 300 "${MD_ARGS[@]}" || rc=$?
kill -0 "$PID" 2>/dev/null || { echo "petrel died during the benchmark:"; tail -20 "$WORK/petrel/petrel.log"; rc=1; }
"$HERE/petrel-instance.sh" stop "$WORK/petrel"

if have_postfix; then
  echo "== postfix: $NPF idle connections"
  PP=$(free_port)
  "$HERE/postfix-instance.sh" start "$WORK/postfix" "$PP"
  timeout 400 $PY "$HERE/idle_conns.py" --port "$PP" -n "$NPF" --hold 3 --label postfix \
    --time-limit 300 --pids-cmd "$HERE/postfix-instance.sh children $WORK/postfix" \
    "${MD_ARGS[@]}" || rc=$?
  "$HERE/postfix-instance.sh" stop "$WORK/postfix"
fi
exit $rc
