#!/usr/bin/env bash
# queue-accept.sh — accept throughput into a durable queue (issue 3 "Benchmark"): petrel beside
# a private Postfix (normal fsync behaviour, queue manager off so mail stays queued) in the same
# run, both driven by Postfix's smtp-source, with two ceilings: smtp-sink (accepts without
# storing, same load) and the disk's own fsync rate (fsync_rate.py).
#
#   bench/queue-accept.sh [--markdown FILE] [--quick]
#     env: PETREL_BIN, SIZES="1024 102400", SESSIONS="1 20 100", RCPTS="1 5",
#          COUNT_SMALL=3000 COUNT_LARGE=600 (messages per cell; a third of that at 1 session),
#          CELL_TIMEOUT=90 (s per server and cell), TARGET_REPS=3 (repetitions of the target
#          cell, 20 sessions x 1 KiB x 1 rcpt; median shown), SKIP_POSTFIX=1
#   --quick: only the 1 KiB, 20-session cells.
#
# Each server gets a clean queue per cell: a fresh petrel data_dir (sandbox delivery: every
# message is a record appended to the spool's segment log, spool/segments/<n>.log, made durable
# by the group commit's one fdatasync per batch before its 250, and stays there), `postsuper -d
# ALL` for Postfix. After each run the queued messages are counted on disk (petrel: whole live
# records in the segments, checksums verified, by spool_count.py; Postfix: queue files), and
# msg/s = messages found in the queue / seconds, so neither side can cheat; a cell that hit the
# time cap is marked. Loopback only; every server is stopped by its PID.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
MD=""; QUICK=0
while [ $# -gt 0 ]; do
  case $1 in
    --markdown) MD=${2:?--markdown FILE}; shift 2 ;;
    --quick) QUICK=1; shift ;;
    *) echo "usage: queue-accept.sh [--markdown FILE] [--quick]" >&2; exit 2 ;;
  esac
done
SIZES=${SIZES:-"1024 102400"}; SESSIONS=${SESSIONS:-"1 20 100"}; RCPTS=${RCPTS:-"1 5"}
[ $QUICK = 1 ] && { SIZES=1024; SESSIONS=20; }
COUNT_SMALL=${COUNT_SMALL:-3000}; COUNT_LARGE=${COUNT_LARGE:-600}
CELL_TIMEOUT=${CELL_TIMEOUT:-90}; TARGET_REPS=${TARGET_REPS:-3}
SRC=/usr/sbin/smtp-source
[ -x "$SRC" ] || { echo "smtp-source missing (Debian package postfix)" >&2; exit 2; }
raise_nofile
need_petrel
bench_workdir

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN{d=b-a; printf "%.0f", (d>0? n/d : 0)}'; }

# drive PORT SESSIONS COUNT SIZE RCPTS -> "seconds rc" (rc 124: time cap reached)
drive() {
  local t0 t1 rc=0
  t0=$(now)
  timeout "$CELL_TIMEOUT" "$SRC" -s "$2" -m "$3" -l "$4" -r "$5" -M bench.test \
    -f sender@bench.test -t rcpt@bench.test "127.0.0.1:$1" >>"$WORK/source.log" 2>&1 || rc=$?
  t1=$(now)
  echo "$t0 $t1 $rc"
}

# One run against each server; prints "sink petrel postfix petrel_stored postfix_stored flags".
run_cell() {
  local s=$1 m=$2 l=$3 r=$4 port t0 t1 rc flags="" sink pet pf=- nstored pfstored=-
  port=$(free_port); sink_start "$port"
  read -r t0 t1 rc < <(drive "$port" "$s" "$m" "$l" "$r")
  sink_stop
  [ "$rc" = 0 ] && sink=$(rate "$m" "$t0" "$t1") || { sink=-; flags+=" sink:rc=$rc"; }

  rm -rf "$WORK/petrel"; port=$(free_port)
  "$BENCH_DIR/petrel-instance.sh" start "$WORK/petrel" "$port" >/dev/null
  read -r t0 t1 rc < <(drive "$port" "$s" "$m" "$l" "$r")
  nstored=$($PY "$BENCH_DIR/spool_count.py" "$WORK/petrel/data")
  "$BENCH_DIR/petrel-instance.sh" stop "$WORK/petrel"
  pet=$(rate "$nstored" "$t0" "$t1")
  [ "$rc" = 0 ] || flags+=" petrel:rc=$rc"
  [ "$nstored" = "$m" ] || flags+=" petrel:stored=$nstored/$m"

  if [ "$HAVE_PF" = 1 ]; then
    "$BENCH_DIR/postfix-instance.sh" purge "$WORK/postfix"
    read -r t0 t1 rc < <(drive "$PF_PORT" "$s" "$m" "$l" "$r")
    # Postfix answers 250 after cleanup has fsynced the file into incoming/: countable now.
    pfstored=$("$BENCH_DIR/postfix-instance.sh" count "$WORK/postfix")
    pf=$(rate "$pfstored" "$t0" "$t1")
    [ "$rc" = 0 ] || flags+=" postfix:rc=$rc"
    [ "$pfstored" = "$m" ] || flags+=" postfix:stored=$pfstored/$m"
    "$BENCH_DIR/postfix-instance.sh" purge "$WORK/postfix"
  fi
  echo "$sink $pet $pf $nstored $pfstored${flags:+ $flags}"
}

median() { tr ' ' '\n' | { grep -v '^-$' || true; } | sort -n | awk '{v[NR]=$1} END{if(NR==0) print "-"; else print v[int((NR+1)/2)]}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (a=="-"||b=="-"||b==0) print "-"; else printf "%.2f×", a/b }'; }

HAVE_PF=0
if have_postfix; then
  PF_PORT=$(free_port)
  "$BENCH_DIR/postfix-instance.sh" start "$WORK/postfix" "$PF_PORT" >/dev/null && HAVE_PF=1
fi

echo "== disk: fsync_rate.py in $WORK (same filesystem as the spools)"
FSYNC=$($PY "$BENCH_DIR/fsync_rate.py" "$WORK/fsync" --seconds 3 --threads 20)
echo "$FSYNC"
fs_get() { echo "$FSYNC" | awk -v m="$1" -v t="$2" '$1=="mode="m && $2=="threads="t {sub("ops_per_s=","",$4); printf "%.0f", $4}'; }

ROWS=$WORK/rows.md; : >"$ROWS"
printf '%-6s %-4s %-4s %-6s %8s %8s %8s %10s %10s  %s\n' size sess rcpt msgs sink petrel postfix pet/pf pet/sink notes
for l in $SIZES; do
  for s in $SESSIONS; do
    for r in $RCPTS; do
      if [ "$l" -le 4096 ]; then m=$COUNT_SMALL; else m=$COUNT_LARGE; fi
      [ "$s" = 1 ] && m=$((m / 3))
      reps=1; [ "$l" = 1024 ] && [ "$s" = 20 ] && [ "$r" = 1 ] && reps=$TARGET_REPS
      sinks=""; pets=""; pfs=""; notes=""
      for _ in $(seq 1 "$reps"); do
        read -r a b c _ _ f < <(run_cell "$s" "$m" "$l" "$r")
        sinks+=" $a"; pets+=" $b"; pfs+=" $c"; notes+="${f:+ $f}"
      done
      sink=$(echo $sinks | median); pet=$(echo $pets | median); pf=$(echo $pfs | median)
      [ "$reps" -gt 1 ] && notes="median of $reps (petrel:$pets; postfix:$pfs; sink:$sinks)$notes"
      kib=$((l / 1024))
      printf '%-6s %-4s %-4s %-6s %8s %8s %8s %10s %10s  %s\n' "${kib}K" "$s" "$r" "$m" "$sink" "$pet" "$pf" \
        "$(ratio "$pet" "$pf")" "$(ratio "$pet" "$sink")" "$notes"
      echo "| $kib KiB | $s | $r | $m | $sink | $pet | $pf | $(ratio "$pet" "$pf") | $(ratio "$pet" "$sink") | ${notes# } |" >>"$ROWS"
    done
  done
done

if [ -n "$MD" ]; then
  {
    echo
    echo "## Accept throughput into the durable queue (bench/queue-accept.sh)"
    echo
    machine_facts
    echo
    echo "Postfix's \`smtp-source\` drives each server in turn with the same load: one message per"
    echo "connection, \`-s\` sessions in parallel, \`-r\` recipients, \`-l\` bytes of body. msg/s ="
    echo "messages found in the queue afterwards / wall time of the run (petrel: whole live records"
    echo "in its segment log, spool/segments/*.log, spool format 3: each record appended there and"
    echo "made durable before its 250 by one fdatasync per group of concurrent commits; Postfix:"
    echo "queue files, fsynced by cleanup before its 250, queue manager off). smtp-sink"
    echo "accepts and discards (the protocol ceiling). Fresh queue per cell. Target (issue 3): at"
    echo "20 sessions with 1 KiB, petrel ≥ 3× Postfix and ≥ 0.5× smtp-sink."
    echo
    echo "Disk ceiling (fsync_rate.py, 1 KiB): write+fdatasync on one file $(fs_get append 1)/s"
    echo "(petrel's segment log pays one such sync per group commit); for comparison, a file per"
    echo "message without group commit (create+write+fdatasync+rename+directory fsync)"
    echo "$(fs_get commit 1)/s on one thread, $(fs_get commit 20)/s from 20 threads."
    echo
    echo "| size | sessions | rcpts | msgs | smtp-sink msg/s | petrel msg/s | Postfix msg/s | petrel/Postfix | petrel/sink | notes |"
    echo "|---|---|---|---|---|---|---|---|---|---|"
    cat "$ROWS"
  } >>"$MD"
  echo "appended to $MD"
fi
