"""dns_server — a real dnsmasq (Debian dnsmasq-base) serving given MX/A/AAAA/TXT/CNAME/PTR records on
a free 127.0.0.1 port, for tests that point petrel's `[dns] servers` at it.

    with DnsServer("example.test",
                   mx=[("example.test", "mx1.example.test", 10)],
                   a={"mx1.example.test": ["127.0.0.2"]},
                   txt={"example.test": [["v=spf1 ", "-all"]]}) as dns:
        config["dns"] = {"servers": [dns.address]}

Names under `zone` that are not listed get NXDOMAIN (`--local=/zone/`; without it dnsmasq would
answer REFUSED); a listed name asked for a type it lacks gets NoData. Records have a TTL of
`ttl` seconds (dnsmasq's own default is 0). A null MX (RFC 7505) is `mx=[(domain, ".", 0)]`.
dnsmasq runs in the foreground, is ready once it answers a query (polled, no fixed sleep), and
is stopped by its PID (SIGTERM, then SIGKILL). `query()` is a minimal stub resolver so tests can
check what the server says without extra packages. Only loopback addresses are used.
"""
from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import tempfile
import time

DNSMASQ = "/usr/sbin/dnsmasq"
TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}


def available() -> bool:
    return os.access(DNSMASQ, os.X_OK)


def free_dns_port() -> int:
    """A 127.0.0.1 port free for both UDP and TCP now (DNS uses both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port
    raise RuntimeError("no free loopback port")


def _encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def _skip_name(msg: bytes, pos: int) -> int:
    while True:
        length = msg[pos]
        if length & 0xC0 == 0xC0:
            return pos + 2
        pos += 1 + length
        if length == 0:
            return pos


def query(port: int, name: str, qtype: str, timeout: float = 2.0):
    """One UDP query to 127.0.0.1:port. Returns (rcode, [(type, ttl, rdata bytes), ...]) from
    the answer section. Raises socket.timeout when nothing answers in time."""
    qid = os.getpid() & 0xFFFF
    packet = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    packet += _encode_name(name) + struct.pack(">HH", TYPES[qtype], 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, ("127.0.0.1", port))
        msg = s.recv(65535)
    _, flags, qd, an, _, _ = struct.unpack(">HHHHHH", msg[:12])
    pos = 12
    for _ in range(qd):
        pos = _skip_name(msg, pos) + 4
    answers = []
    for _ in range(an):
        pos = _skip_name(msg, pos)
        rtype, _, ttl, rdlen = struct.unpack(">HHIH", msg[pos:pos + 10])
        pos += 10
        answers.append((rtype, ttl, msg[pos:pos + rdlen]))
        pos += rdlen
    return flags & 0x0F, answers


def txt_strings(rdata: bytes) -> list[bytes]:
    """The character-strings of a TXT RDATA."""
    out, pos = [], 0
    while pos < len(rdata):
        n = rdata[pos]
        out.append(rdata[pos + 1:pos + 1 + n])
        pos += 1 + n
    return out


class DnsServer:
    def __init__(self, zone: str, *, mx=(), a=None, aaaa=None, txt=None, cname=None,
                 ptr=None, ttl: int = 300, extra_args=()):
        self.zone = zone.rstrip(".")
        self.args = [f"--local=/{self.zone}/", f"--local-ttl={ttl}"]
        for domain, host, pref in mx:
            self.args.append(f"--mx-host={domain},{host},{pref}")
        for name, ips in (a or {}).items():
            self.args += [f"--host-record={name},{ip}" for ip in ips]
        for name, ips in (aaaa or {}).items():
            self.args += [f"--host-record={name},{ip}" for ip in ips]
        for name, records in (txt or {}).items():
            for strings in records:
                if isinstance(strings, str):
                    strings = [strings]
                # On the command line dnsmasq splits strings at commas; quotes are not special.
                if any("," in s for s in strings):
                    raise ValueError("dnsmasq cannot serve a TXT string containing a comma")
                self.args.append(f"--txt-record={name}," + ",".join(strings))
        for alias, target in (cname or {}).items():
            self.args.append(f"--cname={alias},{target}")
        # ptr={"4.3.2.1.in-addr.arpa": ["host.zone", ...]}. Note that --host-record (a=, aaaa=)
        # also publishes the PTR of each address.
        for name, targets in (ptr or {}).items():
            self.args += [f"--ptr-record={name},{t}" for t in targets]
        self.args += list(extra_args)
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def address(self) -> str:
        """What goes into `[dns] servers`."""
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> "DnsServer":
        if not available():
            raise RuntimeError(f"{DNSMASQ} not installed (Debian dnsmasq-base)")
        self.port = free_dns_port()
        self._log = tempfile.TemporaryFile()
        cmd = [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
               "--no-hosts", f"--port={self.port}", "--listen-address=127.0.0.1",
               "--bind-interfaces", "--user=root", "--pid-file=", "--log-facility=-",
               *self.args]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dnsmasq exited at start: {self.log()}")
            try:
                query(self.port, f"ready-check.{self.zone}", "A", timeout=0.2)
                return self
            except OSError:  # timeout, or ICMP refused before dnsmasq bound
                time.sleep(0.02)
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"dnsmasq did not answer within {timeout}s: {self.log()}")

    def log(self) -> str:
        if not self._log:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def stop(self) -> None:
        """SIGTERM by PID, SIGKILL after 5 s; idempotent."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc = None

    def __enter__(self) -> "DnsServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        if self._log:
            self._log.close()
            self._log = None
