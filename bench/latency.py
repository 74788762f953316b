#!/usr/bin/python3
"""latency.py — p50/p99 of one whole SMTP transaction against one or more servers.

A transaction is: connect, read the 220 greeting, EHLO, MAIL, RCPT, DATA, message, final dot,
read "250 ... queued"; that interval is what is timed. QUIT and the close follow, untimed, before
the session starts its next transaction on a new connection. No pipelining: each command waits
for its reply, as a plain client does.

  latency.py [--count 2000] [--reps 3] [--concurrency 1,20] [--size 1024] [--time-limit 120]
             [--server-pid NAME=PID] [--markdown FILE] NAME=HOST:PORT [NAME=HOST:PORT ...]

For each concurrency level and each target (in the order given, all in the same run) it runs
`count` transactions (after a short warm-up) with that many sessions in parallel, `reps` times
(alternating between targets), and prints the median repetition's p50, p99, mean, max and
transaction rate, with the p50/p99 range over the repetitions; with two or more targets also
the ratio of each target's p50/p99 to the first one's. A setting stops early at `time-limit` seconds (the table
says how many transactions it completed). Loopback targets only.
"""
import argparse
import asyncio
import ipaddress
import math
import os
import sys
import time


def percentile(sorted_vals, p):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_vals:
        return float("nan")
    k = max(1, math.ceil(p / 100 * len(sorted_vals)))
    return sorted_vals[k - 1]


async def read_reply(reader, timeout):
    """Reads one (possibly multi-line) SMTP reply; returns (code, last_line)."""
    while True:
        line = await asyncio.wait_for(reader.readline(), timeout)
        if not line:
            raise ConnectionError("server closed the connection")
        if len(line) < 4:
            raise ConnectionError(f"malformed reply {line!r}")
        if line[3:4] != b"-":
            return int(line[:3]), line


async def transaction(host, port, body, rcpt, timeout):
    t0 = time.perf_counter()
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        code, line = await read_reply(reader, timeout)
        if code != 220:
            raise RuntimeError(f"greeting {line!r}")
        for cmd, want in ((b"EHLO bench.client.test\r\n", 250),
                          (b"MAIL FROM:<sender@client.test>\r\n", 250),
                          (b"RCPT TO:<" + rcpt + b">\r\n", 250),
                          (b"DATA\r\n", 354)):
            writer.write(cmd)
            code, line = await read_reply(reader, timeout)
            if code != want:
                raise RuntimeError(f"{cmd.strip()!r} -> {line!r}")
        writer.write(body)
        code, line = await read_reply(reader, timeout)
        if code != 250:
            raise RuntimeError(f"end of data -> {line!r}")
        elapsed = time.perf_counter() - t0
        writer.write(b"QUIT\r\n")
        try:
            await read_reply(reader, timeout)
        except (ConnectionError, asyncio.TimeoutError):
            pass
        return elapsed
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass


def make_body(size):
    head = (b"From: sender@client.test\r\nTo: user@bench.test\r\nSubject: latency bench\r\n"
            b"Message-ID: <bench@client.test>\r\n\r\n")
    line = b"x" * 76 + b"\r\n"
    lines = max(1, (size - len(head)) // len(line))
    return head + line * lines + b".\r\n"


async def run_setting(host, port, rcpt, concurrency, count, body, time_limit, timeout):
    lat, errors = [], []
    issued = 0
    deadline = time.monotonic() + time_limit

    async def worker():
        nonlocal issued
        while issued < count and time.monotonic() < deadline:
            issued += 1
            try:
                lat.append(await transaction(host, port, body, rcpt, timeout))
            except Exception as e:  # a failed transaction is counted, not timed
                errors.append(repr(e))
                if len(errors) > 50:
                    return

    t0, c0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - t0
    cpu = time.process_time() - c0
    lat.sort()
    return {
        "n": len(lat), "errors": len(errors), "first_error": errors[0] if errors else "",
        "p50": percentile(lat, 50) * 1e3, "p99": percentile(lat, 99) * 1e3,
        "mean": (sum(lat) / len(lat) * 1e3) if lat else float("nan"),
        "max": (lat[-1] * 1e3) if lat else float("nan"),
        "rate": len(lat) / wall if wall > 0 else 0.0,
        # The load generator's own CPU use: near 100 % means the client, not the server, sets
        # the pace (one Python process drives every session).
        "client_cpu": 100.0 * cpu / wall if wall > 0 else 0.0,
    }


def proc_cpu_seconds(pid):
    """utime + stime of a process (all its threads), from /proc/PID/stat."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def parse_target(text):
    name, _, hp = text.partition("=")
    host, _, port = hp.rpartition(":")
    host = host.strip("[]")
    if not name or not port.isdigit():
        raise SystemExit(f"bad target {text!r}: want NAME=HOST:PORT")
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"refusing non-loopback target {host}")
    return name, host, int(port)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("targets", nargs="+")
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--reps", type=int, default=3, help="repetitions per setting (median shown)")
    ap.add_argument("--concurrency", default="1,20")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--rcpt", default="user@bench.test")
    ap.add_argument("--time-limit", type=float, default=120.0, help="seconds per setting")
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per reply")
    ap.add_argument("--markdown", help="also write the table to this file")
    ap.add_argument("--server-pid", action="append", default=[], metavar="NAME=PID",
                    help="report this single-process server's CPU time per transaction")
    args = ap.parse_args()
    targets = [parse_target(t) for t in args.targets]
    levels = [int(c) for c in args.concurrency.split(",")]
    body = make_body(args.size)
    rcpt = args.rcpt.encode()

    server_pids = dict(x.split("=", 1) for x in args.server_pid)
    runs = {}   # (sessions, name) -> [result per repetition]
    for c in levels:
        # Repetitions alternate between the targets, so that background load on a shared
        # machine falls on all of them alike; the table shows the median repetition.
        for rep in range(args.reps):
            for name, host, port in targets:
                asyncio.run(run_setting(host, port, rcpt, min(c, args.warmup), args.warmup,
                                        body, 30, args.timeout))
                s0 = proc_cpu_seconds(server_pids[name]) if name in server_pids else None
                r = asyncio.run(run_setting(host, port, rcpt, c, args.count, body,
                                            args.time_limit, args.timeout))
                s1 = proc_cpu_seconds(server_pids[name]) if name in server_pids else None
                r["server_cpu_ms"] = ((s1 - s0) * 1e3 / r["n"]
                                      if s0 is not None and s1 is not None and r["n"] else None)
                runs.setdefault((c, name), []).append(r)
                print(f"  {name:8} sessions={c:<3} rep={rep + 1} n={r['n']:<5} "
                      f"p50={r['p50']:.2f} ms p99={r['p99']:.2f} ms rate={r['rate']:.0f}/s "
                      f"client_cpu={r['client_cpu']:.0f}% errors={r['errors']} "
                      f"{r['first_error'][:120]}", file=sys.stderr, flush=True)

    def median_run(rs):
        """The repetition with the median p50, plus the p50/p99 ranges over all of them."""
        ordered = sorted(rs, key=lambda r: r["p50"])
        m = dict(ordered[len(ordered) // 2])
        m["p50_range"] = (ordered[0]["p50"], ordered[-1]["p50"])
        p99s = sorted(r["p99"] for r in rs)
        m["p99_range"] = (p99s[0], p99s[-1])
        m["n"] = sum(r["n"] for r in rs)
        m["errors"] = sum(r["errors"] for r in rs)
        return m

    results = {k: median_run(v) for k, v in runs.items()}

    base = targets[0][0]
    head = ("| sessions | server | transactions | p50 ms [range] | p99 ms [range] | mean ms "
            "| max ms | msg/s "
            "| p50 vs " + base + " | p99 vs " + base + " | client CPU | server CPU ms/msg |")
    rows = [head, "|" + "---|" * 12]
    for c in levels:
        b = results[(c, base)]
        for name, _, _ in targets:
            r = results[(c, name)]
            ratio = lambda k: (f"{r[k] / b[k]:.2f}×" if b[k] and not math.isnan(r[k]) else "-")
            n = f"{r['n']}" + (f" ({r['errors']} failed)" if r["errors"] else "")
            rng = lambda k: (f"{r[k]:.2f} [{r[k + '_range'][0]:.2f}–{r[k + '_range'][1]:.2f}]"
                             if args.reps > 1 else f"{r[k]:.2f}")
            rows.append(f"| {c} | {name} | {n} | {rng('p50')} | {rng('p99')} | "
                        f"{r['mean']:.2f} | {r['max']:.1f} | {r['rate']:.0f} | {ratio('p50')} | "
                        f"{ratio('p99')} | {r['client_cpu']:.0f} % | "
                        + (f"{r['server_cpu_ms']:.3f} |" if r["server_cpu_ms"] is not None
                           else "- |"))
    table = "\n".join(rows)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table + "\n")
    if any(r["n"] == 0 for r in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
