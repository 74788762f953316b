#!/usr/bin/env python3
"""spool_count.py — how many messages a petrel spool holds, counted on disk (format version 3:
records appended to spool/segments/<n>.log, removals as tombstone lines in <n>.removed;
docs/queue-format.md). The benchmarks count what is stored, not what the server says, so a
record counts only if it is whole: header and message checksums match (the same rule as
petrel's recovery, via tests/lib/petrel_spool.py). Legacy files in spool/queue/ (version 1/2,
migrated at start-up) are counted too, so a petrel from before version 3 is measured the same way.

  spool_count.py DATA_DIR            prints the number of live messages
  spool_count.py DATA_DIR --detail   prints "live=N removed=N segments=N record_bytes=N torn=N legacy=N"

Read-only; safe beside a running petrel once the messages to count were acknowledged (a commit
in flight may show up as a torn tail, reported as torn, not counted).
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "lib"))
import petrel_spool  # noqa: E402


def main(argv):
    if len(argv) < 2 or argv[1].startswith("-"):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: spool_count.py DATA_DIR [--detail]", file=sys.stderr)
        return 2
    spool = Path(argv[1]) / "spool"
    live = removed = record_bytes = torn = 0
    segments = petrel_spool.segment_files(spool)
    for seg in segments:
        dead = petrel_spool.tombstones(seg)
        scan = petrel_spool.scan_segment(seg)
        torn += scan.file_size - scan.good_end
        for rec in scan.records:
            if rec.qid in dead:
                removed += 1
            else:
                live += 1
                record_bytes += rec.size
    legacy_dir = spool / "queue"
    legacy = sum(1 for e in os.scandir(legacy_dir) if e.is_file()) if legacy_dir.is_dir() else 0
    if "--detail" in argv[2:]:
        print(f"live={live + legacy} removed={removed} segments={len(segments)} "
              f"record_bytes={record_bytes} torn={torn} legacy={legacy}")
    else:
        print(live + legacy)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
