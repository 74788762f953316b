#!/usr/bin/python3
"""fsync_rate.py — the disk's durable-write rate in a directory: the ceiling for any spool that
syncs each message on its own.

  fsync_rate.py DIR [--seconds 3] [--size 1024] [--threads 20]

Prints one line per mode, "mode=NAME threads=T ops=N ops_per_s=R":
  append   one file: write SIZE bytes + fdatasync, repeated (1 thread): the sync a log-structured
           spool pays once per group commit (petrel's segment log, spool format 3)
  commit   per op: create tmp file, write SIZE bytes, fdatasync, rename into DIR/q/, fsync DIR/q
           (what one message costs a file-per-message spool without group commit), 1 thread
  commit   the same from --threads threads at once (how far the filesystem merges syncs alone)
Files are removed as it goes; DIR must be on the filesystem under test. Bounded by --seconds.
"""
import argparse
import os
import threading
import time


def append_loop(path, size, seconds):
    buf = b"x" * size
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    n, end = 0, time.monotonic() + seconds
    try:
        while time.monotonic() < end:
            os.write(fd, buf)
            os.fdatasync(fd)
            n += 1
    finally:
        os.close(fd)
        os.unlink(path)
    return n


def commit_loop(tmp_dir, q_dir, q_fd, tag, size, seconds, out):
    buf = b"x" * size
    n, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        tmp = os.path.join(tmp_dir, f"{tag}.{n}")
        fin = os.path.join(q_dir, f"{tag}.{n}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, buf)
        os.fdatasync(fd)
        os.close(fd)
        os.rename(tmp, fin)
        os.fsync(q_fd)
        if n >= 16:  # keep the directory small, as a draining queue would
            os.unlink(os.path.join(q_dir, f"{tag}.{n - 16}"))
        n += 1
    for i in range(max(0, n - 16), n):
        os.unlink(os.path.join(q_dir, f"{tag}.{i}"))
    out.append(n)


def commit_threads(base, size, seconds, threads):
    tmp_dir, q_dir = os.path.join(base, "tmp"), os.path.join(base, "q")
    os.makedirs(tmp_dir, exist_ok=True)
    os.makedirs(q_dir, exist_ok=True)
    q_fd = os.open(q_dir, os.O_RDONLY | os.O_DIRECTORY)
    out = []
    try:
        ts = [threading.Thread(target=commit_loop,
                               args=(tmp_dir, q_dir, q_fd, f"t{i}", size, seconds, out))
              for i in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    finally:
        os.close(q_fd)
    return sum(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=20)
    a = ap.parse_args()
    os.makedirs(a.dir, exist_ok=True)
    n = append_loop(os.path.join(a.dir, "append"), a.size, a.seconds)
    print(f"mode=append threads=1 ops={n} ops_per_s={n / a.seconds:.1f}")
    for t in (1, a.threads):
        n = commit_threads(a.dir, a.size, a.seconds, t)
        print(f"mode=commit threads={t} ops={n} ops_per_s={n / a.seconds:.1f}")


if __name__ == "__main__":
    main()
