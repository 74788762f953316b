#!/usr/bin/python3
"""idle_conns.py — hold N idle SMTP connections (each past EHLO) and report the server's
memory per connection.

  idle_conns.py --port PORT --pid PID [--pid PID ...] [-n 10000] [--hold 5]
                [--sources 250] [--parallel 400] [--time-limit 300] [--markdown FILE]
  idle_conns.py --port PORT --pids-cmd 'shell command printing PIDs' ...

Memory is read from /proc/PID/status (VmRSS) and /proc/PID/smaps_rollup (Pss, and Private =
Private_Clean + Private_Dirty), summed over the PIDs, once before the connections are opened
and once while all of them are held (after `hold` seconds, the server settled); the report is
(during - before) / connections. With --pids-cmd the PID list is taken again while the
connections are held (process-per-connection servers such as Postfix fork one per client).

Each client socket is bound to 127.0.0.(i % sources + 2) so that per-IP limits and ephemeral
port ranges are spread (Linux routes all of 127.0.0.0/8 to lo). One asyncio loop holds every
socket; RLIMIT_NOFILE is raised to the hard limit. Everything is bounded by --time-limit.
"""
import argparse
import asyncio
import resource
import subprocess
import sys
import time


def mem_of(pids):
    rss = pss = priv = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k == "Pss":
                        pss += int(v.split()[0])
                    elif k in ("Private_Clean", "Private_Dirty"):
                        priv += int(v.split()[0])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return {"procs": len(pids), "rss": rss, "pss": pss, "private": priv}


def raise_nofile(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(need, soft)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(need, soft), target), hard))
    except ValueError:
        pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def open_one(i, host, port, sources, timeout, conns, failures):
    src = f"127.0.0.{i % sources + 2}" if sources else None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(host, port, local_addr=(src, 0) if src else None), timeout)
    except Exception as e:
        failures.append(f"connect: {e!r}")
        return
    try:
        line = await asyncio.wait_for(reader.readline(), timeout)
        if not line.startswith(b"220"):
            raise RuntimeError(f"greeting {line!r}")
        while line[3:4] == b"-":
            line = await asyncio.wait_for(reader.readline(), timeout)
        writer.write(b"EHLO idle.bench.test\r\n")
        while True:
            line = await asyncio.wait_for(reader.readline(), timeout)
            if not line.startswith(b"250"):
                raise RuntimeError(f"EHLO -> {line!r}")
            if line[3:4] != b"-":
                break
        conns.append((reader, writer))
    except Exception as e:
        failures.append(repr(e))
        writer.close()


async def run(args, pids_now):
    conns, failures = [], []
    sem = asyncio.Semaphore(args.parallel)
    deadline = time.monotonic() + args.time_limit

    async def guarded(i):
        if time.monotonic() > deadline:
            failures.append("time limit")
            return
        async with sem:
            await open_one(i, args.host, args.port, args.sources, args.timeout, conns, failures)

    before = mem_of(pids_now())
    t0 = time.monotonic()
    await asyncio.gather(*(guarded(i) for i in range(args.n)))
    setup = time.monotonic() - t0
    await asyncio.sleep(args.hold)     # let the server settle (not a readiness wait)
    during = mem_of(pids_now())

    # Then check that the connections were still open: each must answer a NOOP.
    async def noop(r, w):
        async with sem:
            try:
                w.write(b"NOOP\r\n")
                line = await asyncio.wait_for(r.readline(), args.timeout)
                return line.startswith(b"250")
            except Exception:
                return False
    alive = sum(await asyncio.gather(*(noop(r, w) for r, w in conns)))
    for _, w in conns:
        try:
            w.write(b"QUIT\r\n")
            w.close()
        except Exception:
            pass
    await asyncio.sleep(0.2)
    return before, during, len(conns), alive, failures, setup


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, action="append", default=[])
    ap.add_argument("--pids-cmd")
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--hold", type=float, default=5.0)
    ap.add_argument("--sources", type=int, default=250, help="0: do not bind source addresses")
    ap.add_argument("--parallel", type=int, default=400, help="connections being set up at once")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--time-limit", type=float, default=300.0)
    ap.add_argument("--label", default="server")
    ap.add_argument("--markdown", help="append a table row to this file")
    args = ap.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        sys.exit("loopback targets only")
    if not args.pid and not args.pids_cmd:
        sys.exit("give --pid or --pids-cmd")

    def pids_now():
        if args.pids_cmd:
            out = subprocess.run(["bash", "-c", args.pids_cmd], capture_output=True, text=True)
            return [int(p) for p in out.stdout.split()]
        return args.pid

    nofile = raise_nofile(args.n + 256)
    if nofile < args.n + 64:
        print(f"warning: RLIMIT_NOFILE {nofile} < {args.n} connections", file=sys.stderr)
    before, during, opened, alive, failures, setup = asyncio.run(run(args, pids_now))
    n = max(opened, 1)
    per = {k: (during[k] - before[k]) / n for k in ("rss", "pss", "private")}
    print(f"{args.label}: connections={opened}/{args.n} alive={alive} failed={len(failures)} "
          f"setup_s={setup:.1f} procs {before['procs']}->{during['procs']}")
    if failures:
        print(f"  first failure: {failures[0]}")
    print(f"  before: rss={before['rss']} KiB pss={before['pss']} KiB private={before['private']} KiB")
    print(f"  during: rss={during['rss']} KiB pss={during['pss']} KiB private={during['private']} KiB")
    print(f"  per connection: rss={per['rss']:.2f} KiB pss={per['pss']:.2f} KiB "
          f"private={per['private']:.2f} KiB")
    if args.markdown:
        with open(args.markdown, "a") as f:
            f.write(f"| {args.label} | {opened} of {args.n} | {alive} | {before['rss']:,} | "
                    f"{during['rss']:,} | {per['rss']:.2f} | {per['pss']:.2f} | "
                    f"{per['private']:.2f} | {before['procs']}→{during['procs']} |\n")
    sys.exit(0 if opened == args.n and alive == opened else 1)


if __name__ == "__main__":
    main()
