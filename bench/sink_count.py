#!/usr/bin/python3
"""sink_count.py — wait until smtp-sink instances have received a number of messages.

  sink_count.py --total N [--timeout 600] FILE...

Each FILE is the standard output of one `smtp-sink -c` (running counters "sess=S quit=Q
mesg=M", separated by CR, written as each "." arrives). Polls the end of every file each 10 ms
and, as soon as the sum of the last mesg= figures reaches N, prints "EPOCH_SECONDS MESSAGES
SESSIONS" (time.time() of that poll; SESSIONS = the sum of the sess= figures: connections
to the sinks that have ended so far) and exits 0; after --timeout seconds prints the same with
the counts reached and exits 1. Trusts the files only as far as the regular expression below reads
them: anything else in them is ignored. Used by bench/relay.sh (end of an end-to-end run; with --total 0, after the MTA has stopped,
for the number of connections it used).
"""
import argparse
import os
import re
import sys
import time

COUNTERS = re.compile(rb"sess=(\d+) quit=\d+ mesg=(\d+)")


def last_counts(path):
    """(sessions, messages) from the last complete counter line of one sink's output."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 256))
            found = COUNTERS.findall(f.read())
            return (int(found[-1][0]), int(found[-1][1])) if found else (0, 0)
    except OSError:
        return (0, 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--total", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    deadline = time.monotonic() + a.timeout
    while True:
        counts = [last_counts(p) for p in a.files]
        n = sum(m for _, m in counts)
        if n >= a.total or time.monotonic() >= deadline:
            print(f"{time.time():.6f} {n} {sum(s for s, _ in counts)}")
            return 0 if n >= a.total else 1
        time.sleep(0.01)


if __name__ == "__main__":
    sys.exit(main())
