"""petrel_harness — start a real `petrel serve` for integration tests and talk SMTP to it.

What it gives the tests:
  * PetrelInstance: a temp data dir, a TOML config with free loopback ports (picked by binding
    port 0), `petrel user add` for an AUTH user, `petrel serve --config FILE` as a subprocess,
    readiness by polling connect() on every listener (no fixed sleeps), and a stop that signals
    the process by PID (SIGTERM, then SIGKILL after a deadline) and reports crashes (death by
    signal) and sanitizer reports found in its output.
  * RawSmtp: a minimal SMTP client over a plain or TLS socket, for the cases real clients
    cannot produce (pipelining groups, bare CR/LF, injected commands, oversized lines).

Trust: everything read from the server is untrusted test input; every read has a deadline.
Only loopback addresses are ever used.
"""
from __future__ import annotations

import copy
import os
import re
import signal
import socket
import ssl
import subprocess
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import petrel_spool

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_BIN = REPO_ROOT / "build" / "petrel"

# A queue ID (src/base/ids.h): 14 characters of lower-case Crockford base32.
QUEUE_ID_RE = re.compile(r"[0-9a-hjkmnp-tv-z]{14}")
QUEUED_RE = re.compile(r"^250 2\.0\.0 Ok: queued as ([0-9a-hjkmnp-tv-z]{14})$")
ENHANCED_RE = re.compile(r"^[245]\.\d{1,3}\.\d{1,3}$")

SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "runtime error:",          # UBSan
    "WARNING: ThreadSanitizer",
)

USER = "app1@example.test"
PASSWORD = "correct horse battery staple"


def petrel_bin() -> str:
    return os.environ.get("PETREL_BIN", str(DEFAULT_BIN))


def free_port(host: str = "127.0.0.1") -> int:
    """A port the kernel says is free now (bind to port 0, read it back, close)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_is_free(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def wait_until(predicate, timeout: float, interval: float = 0.02, what: str = "condition"):
    """Polls `predicate` until it returns a truthy value; raises TimeoutError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------
# TOML writer: just enough for petrel's config (tables, arrays of tables, strings, ints, bools,
# lists of strings). Keys are written in insertion order, scalars before sub-tables.

def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v)} as TOML")


def _is_table_array(v) -> bool:
    return isinstance(v, list) and v and all(isinstance(x, dict) for x in v)


def to_toml(data: dict, prefix: str = "") -> str:
    out = []
    for k, v in data.items():
        if v is None or isinstance(v, dict) or _is_table_array(v):
            continue
        out.append(f"{k} = {_toml_value(v)}")
    for k, v in data.items():
        name = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict):
            out.append("")
            out.append(f"[{name}]")
            out.append(to_toml(v, name).rstrip("\n"))
        elif _is_table_array(v):
            for item in v:
                out.append("")
                out.append(f"[[{name}]]")
                out.append(to_toml(item, name).rstrip("\n"))
    return "\n".join(line for line in out if line is not None).strip("\n") + "\n"


def deep_merge(base: dict, over: dict) -> dict:
    """`over` wins; nested dicts merge; a key set to None in `over` is removed."""
    result = copy.deepcopy(base)
    for k, v in over.items():
        if v is None:
            result.pop(k, None)
        elif isinstance(v, dict) and isinstance(result.get(k), dict):
            result[k] = deep_merge(result[k], v)
        else:
            result[k] = copy.deepcopy(v)
    return result


# ---------------------------------------------------------------------------------------------

@dataclass
class Listener:
    kind: str
    host: str
    port: int

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


class PetrelCrashed(AssertionError):
    pass


@dataclass
class PetrelInstance:
    """One petrel deployment in `workdir`. Call start(); always call stop() (the fixture does)."""

    workdir: Path
    overrides: dict = field(default_factory=dict)
    extra_listeners: list = field(default_factory=list)  # [(kind, host)]
    user: str | None = USER
    password: str = PASSWORD
    start_timeout: float = 20.0

    def __post_init__(self):
        self.workdir = Path(self.workdir)
        self.data_dir = self.workdir / "data"
        self.config_path = self.workdir / "petrel.toml"
        self.stdout_path = self.workdir / "petrel.stdout"
        self.stderr_path = self.workdir / "petrel.stderr"
        self.proc: subprocess.Popen | None = None
        self.listeners: list[Listener] = []
        for kind in ("mx", "submission", "submissions"):
            self.listeners.append(Listener(kind, "127.0.0.1", free_port("127.0.0.1")))
        for kind, host in self.extra_listeners:
            self.listeners.append(Listener(kind, host, free_port(host)))
        self.config = deep_merge(self.base_config(), self.overrides)

    # -- configuration -------------------------------------------------------------------
    def base_config(self) -> dict:
        base = {
            "data_dir": str(self.data_dir),
            "hostname": "mx.example.test",
            "listener": [{"kind": l.kind, "address": l.address} for l in self.listeners],
            "domains": {"local": ["example.test", "bücher.test"], "relay": ["partner.test"]},
            # Delivery paused: tests that are not about delivery look at the queue undisturbed
            # (tests/integration/test_delivery.py turns it on).
            "delivery": {"mode": "mx", "paused": True},
            # Keep AUTH throttling out of the way of the tests that do not test it.
            "auth": {"max_failures": 50, "failure_delay_ms": 0},
        }
        if "dns" not in self.overrides:
            # Inbound authentication (SPF, DKIM, DMARC) is on for mx mail by default and would
            # ask the resolvers of /etc/resolv.conf: a closed loopback port instead fails every
            # lookup at once (temperror) and keeps tests off the network. Tests about DNS set
            # their own [dns] (a loopback server, tests/lib/dns_server.py).
            base["dns"] = {"servers": [f"127.0.0.1:{free_port()}"], "timeout_ms": 200,
                           "attempts": 1}
        return base

    def write_config(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(to_toml(self.config))

    def listener(self, kind: str, host: str = "127.0.0.1") -> Listener:
        for l in self.listeners:
            if l.kind == kind and l.host == host:
                return l
        raise KeyError(f"no {kind} listener on {host}")

    def port(self, kind: str, host: str = "127.0.0.1") -> int:
        return self.listener(kind, host).port

    # -- CLI -------------------------------------------------------------------------------
    def cli(self, *args: str, stdin: str | None = None, timeout: float = 30.0,
            check: bool = True) -> subprocess.CompletedProcess:
        cmd = [petrel_bin(), *args, "--config", str(self.config_path)]
        cp = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout,
                            cwd=self.workdir)
        if check and cp.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {cp.returncode}\n"
                                 f"stdout: {cp.stdout}\nstderr: {cp.stderr}")
        _check_sanitizers(cp.stdout + cp.stderr, " ".join(cmd))
        return cp

    def add_user(self, name: str, password: str):
        self.cli("user", "add", name, stdin=password + "\n")

    # -- process -----------------------------------------------------------------------------
    def start(self):
        self.spawn()
        try:
            for l in self.listeners:
                wait_until(lambda l=l: self._accepts(l), self.start_timeout,
                           what=f"petrel {l.kind} listener on {l.address}")
        except Exception:
            self.stop(check=False)
            raise AssertionError(f"petrel did not start listening:\n{self.output()}")
        return self

    def spawn(self):
        """Starts `petrel serve` without waiting for it to listen (crash tests kill it while it
        recovers); start() is spawn() plus the readiness wait."""
        self.write_config()
        if self.user:
            self.add_user(self.user, self.password)
        # Append: a restarted instance (crash tests) keeps the log of every earlier run.
        self._out = open(self.stdout_path, "ab")
        self._err = open(self.stderr_path, "ab")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.proc = subprocess.Popen(
            [petrel_bin(), "serve", "--config", str(self.config_path)],
            stdin=subprocess.DEVNULL, stdout=self._out, stderr=self._err, cwd=self.workdir,
            env=env, start_new_session=True)
        return self

    def _accepts(self, l: Listener) -> bool:
        """Ready means speaking SMTP: greeting (after the TLS handshake on submissions), then
        QUIT and the server's close, so no probe connection is still counted against the
        connection limits when the test starts."""
        if self.proc.poll() is not None:
            raise AssertionError(
                f"petrel exited with {self.proc.returncode} during start-up:\n{self.output()}")
        try:
            s = RawSmtp(l.host, l.port, timeout=5, tls=(l.kind == "submissions"))
        except (OSError, ssl.SSLError):
            return False
        try:
            s.greeting()
            s.send(b"QUIT\r\n")
            s.reply()
            s.expect_closed(5)
            return True
        except (OSError, ConnectionClosed, ssl.SSLError):
            return False
        finally:
            s.close()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        text = []
        for p in (self.stdout_path, self.stderr_path):
            try:
                text.append(p.read_text(errors="replace"))
            except FileNotFoundError:
                pass
        return "\n".join(text)

    def log_tail(self, n: int = 60) -> str:
        return "\n".join(self.output().splitlines()[-n:])

    def check_health(self):
        """Fails if petrel died or reported a sanitizer error while it runs."""
        if self.proc is not None and self.proc.poll() is not None:
            raise PetrelCrashed(f"petrel exited unexpectedly with {self.proc.returncode}:\n"
                                f"{self.log_tail()}")
        _check_sanitizers(self.output(), "petrel serve")

    def kill(self):
        """SIGKILL by PID (a crash; not a power loss: the page cache survives) and reap it."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f:
                f.close()
        self.proc = None

    def stop(self, check: bool = True, term_timeout: float = 10.0):
        """SIGTERM by PID, SIGKILL after `term_timeout`. With check: raise on crash/ASan/hang."""
        if self.proc is None:
            return
        problems = []
        rc = self.proc.poll()
        if rc is not None:
            problems.append(f"petrel had already exited with {rc} before teardown")
        else:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=term_timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = self.proc.wait(timeout=10)
                problems.append(f"petrel did not stop within {term_timeout}s of SIGTERM")
        # Exit 0 (clean shutdown) or death by our own SIGTERM are fine; any other signal is a crash.
        if rc is not None and rc < 0 and rc != -signal.SIGTERM and not problems:
            problems.append(f"petrel died from signal {-rc} ({signal.Signals(-rc).name})")
        for f in (getattr(self, "_out", None), getattr(self, "_err", None)):
            if f:
                f.close()
        out = self.output()
        for marker in SANITIZER_MARKERS:
            if marker in out:
                problems.append(f"sanitizer report in petrel output ({marker!r})")
        self.proc = None
        if check and problems:
            raise PetrelCrashed("; ".join(problems) + "\n--- petrel output (tail) ---\n"
                                + "\n".join(out.splitlines()[-80:]))

    # -- spool inspection ------------------------------------------------------------------
    def spool_dir(self) -> Path:
        return self.data_dir / "spool"

    def stored_message(self, qid: str) -> bytes:
        """The message bytes petrel stored for `qid`, read from the spool's segment log on disk
        (tests/lib/petrel_spool.py parses the version 3 records itself; no daemon involved, so
        this also shows what a 250 made durable). Fails if no live record holds `qid`."""
        msg = petrel_spool.stored_message(self.spool_dir(), qid)
        if msg is None:
            raise AssertionError(f"no live record of {qid} in {self.spool_dir() / 'segments'} "
                                 f"(spool: {[str(p) for p in self.spool_dir().rglob('*')][:10]})")
        return msg

    def stored_records(self, needle: bytes) -> list:
        """The live spool records (petrel_spool.Record) whose message contains `needle`."""
        return petrel_spool.records_containing(self.spool_dir(), needle)

    def wait_for_stored_message(self, needle: bytes, timeout: float = 5.0) -> bytes:
        """The bytes of THE stored message containing `needle` (a unique marker): waits until
        one live record holds it, fails if several do. A segment holds many messages, so tests
        that look at stored bytes use this, never a whole file."""
        recs = wait_until(lambda: self.stored_records(needle), timeout,
                          what=f"a stored message containing {needle!r}")
        assert len(recs) == 1, f"{len(recs)} stored messages contain {needle!r}: " \
                               f"{[r.qid for r in recs]}"
        return recs[0].message

    def files_containing(self, needle: bytes) -> list[Path]:
        """Every regular file under data_dir whose bytes contain `needle` (spool-format agnostic:
        finds a message in a segment, live or removed, or anywhere else petrel may have put it;
        a segment holds many messages, so the file's bytes are not the message's)."""
        hits = []
        if not self.data_dir.exists():
            return hits
        for p in self.data_dir.rglob("*"):
            try:
                if p.is_file() and p.stat().st_size < 64 * 1024 * 1024 and needle in p.read_bytes():
                    hits.append(p)
            except OSError:
                continue
        return hits

    def wait_for_stored(self, needle: bytes, timeout: float = 5.0) -> list[Path]:
        """The files holding `needle` once there is one (see files_containing)."""
        return wait_until(lambda: self.files_containing(needle), timeout,
                          what=f"a stored message containing {needle!r}")


def _check_sanitizers(text: str, what: str):
    for marker in SANITIZER_MARKERS:
        if marker in text:
            raise PetrelCrashed(f"sanitizer report from {what}:\n{text[-4000:]}")


# ---------------------------------------------------------------------------------------------
# Raw SMTP client

@dataclass
class Reply:
    code: int
    lines: list[str]          # text after "NNN-" / "NNN ", enhanced code included

    @property
    def enhanced(self) -> str | None:
        first = self.lines[0].split(" ", 1)[0] if self.lines and self.lines[0] else ""
        return first if ENHANCED_RE.match(first) else None

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def keywords(self) -> set[str]:
        """EHLO keywords (upper-case), from every line but the first."""
        return {l.split(" ", 1)[0].upper() for l in self.lines[1:] if l}

    def keyword_line(self, kw: str) -> str | None:
        for l in self.lines[1:]:
            if l.split(" ", 1)[0].upper() == kw.upper():
                return l
        return None

    def __str__(self):
        return "\n".join(f"{self.code} {l}" for l in self.lines)


class ConnectionClosed(Exception):
    pass


def client_tls_context(min_version=ssl.TLSVersion.TLSv1_2, max_version=None) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():   # TLS 1.0/1.1 are deprecated: offering them is the point
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.minimum_version = min_version
        if max_version is not None:
            ctx.maximum_version = max_version
    if min_version < ssl.TLSVersion.TLSv1_2:
        ctx.set_ciphers("DEFAULT@SECLEVEL=0")   # let the client offer old TLS: the server decides
    return ctx


class RawSmtp:
    """A byte-exact SMTP client. Every read has a deadline (`timeout`)."""

    def __init__(self, host: str, port: int, timeout: float = 10.0, tls: bool = False,
                 source: str | None = None):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        if source:
            self.sock.bind((source, 0))
        self.sock.connect((host, port))
        self.timeout = timeout
        self.buf = b""
        self.tls = False
        if tls:
            self.start_tls()

    # -- I/O -------------------------------------------------------------------------
    def send(self, data: bytes | str):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def cmd(self, line: str | bytes) -> Reply:
        if isinstance(line, str):
            line = line.encode()
        self.send(line + b"\r\n")
        return self.reply()

    def _fill(self, deadline: float):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("deadline reached waiting for the server")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError) as e:
            raise ConnectionClosed(str(e))
        if not chunk:
            raise ConnectionClosed("server closed the connection")
        self.buf += chunk

    def readline(self, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\r\n" not in self.buf:
            if len(self.buf) > 100000:
                raise AssertionError("server sent an over-long line")
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self, timeout: float | None = None) -> Reply:
        lines, code = [], None
        while True:
            raw = self.readline(timeout)
            m = re.match(rb"^(\d{3})([ -])(.*)$", raw)
            if not m:
                raise AssertionError(f"malformed reply line {raw!r}")
            c = int(m.group(1))
            if code is not None and c != code:
                raise AssertionError(f"reply code changed inside a multi-line reply: {raw!r}")
            code = c
            lines.append(m.group(3).decode("utf-8", "replace"))
            if m.group(2) == b" ":
                return Reply(code, lines)

    def replies(self, n: int, timeout: float | None = None) -> list[Reply]:
        return [self.reply(timeout) for _ in range(n)]

    def expect_closed(self, timeout: float = 5.0) -> bytes:
        """Waits until the server closes; returns any bytes that arrived first. Fails on timeout."""
        deadline = time.monotonic() + timeout
        got = self.buf
        self.buf = b""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"server did not close the connection within {timeout}s "
                                     f"(received {got!r})")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(65536)
            except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
                return got
            except ssl.SSLError:
                return got
            except socket.timeout:
                continue
            if not chunk:
                return got
            got += chunk

    def is_closed(self, timeout: float = 5.0) -> bool:
        try:
            self.expect_closed(timeout)
            return True
        except AssertionError:
            return False

    def start_tls(self, ctx: ssl.SSLContext | None = None):
        assert not self.buf, f"bytes pending before the TLS handshake: {self.buf!r}"
        ctx = ctx or client_tls_context()
        self.sock.settimeout(self.timeout)
        self.sock = ctx.wrap_socket(self.sock, server_hostname="mx.example.test")
        self.tls = True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- conveniences ----------------------------------------------------------------
    def greeting(self) -> Reply:
        r = self.reply()
        assert r.code == 220, f"greeting: {r}"
        return r

    def ehlo(self, name: str = "client.example.test") -> Reply:
        r = self.cmd(f"EHLO {name}")
        assert r.code == 250, f"EHLO: {r}"
        return r

    def starttls(self, ehlo_after: bool = True) -> Reply | None:
        r = self.cmd("STARTTLS")
        assert r.code == 220, f"STARTTLS: {r}"
        self.start_tls()
        return self.ehlo() if ehlo_after else None

    def auth_plain(self, user: str, password: str) -> Reply:
        import base64
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        return self.cmd(f"AUTH PLAIN {token}")

    def send_message(self, sender: str, rcpts: list[str], body: bytes) -> Reply:
        """MAIL, RCPT..., DATA, body (dot-stuffed by the caller), final dot. Returns the last reply."""
        r = self.cmd(f"MAIL FROM:<{sender}>")
        assert r.code == 250, f"MAIL: {r}"
        for rc in rcpts:
            r = self.cmd(f"RCPT TO:<{rc}>")
            assert r.code == 250, f"RCPT {rc}: {r}"
        r = self.cmd("DATA")
        assert r.code == 354, f"DATA: {r}"
        self.send(body + b".\r\n")
        return self.reply()


def session(inst: PetrelInstance, kind: str = "mx", tls_now: bool | None = None,
            host: str = "127.0.0.1", timeout: float = 10.0, **kw) -> RawSmtp:
    """Connects to a listener (implicit TLS for `submissions`) and reads the greeting."""
    if tls_now is None:
        tls_now = kind == "submissions"
    s = RawSmtp(host, inst.port(kind, host), timeout=timeout, tls=tls_now, **kw)
    s.greeting()
    return s


def simple_message(marker: str, subject: str = "test", extra_headers: str = "") -> bytes:
    return (f"From: sender@client.test\r\nTo: user@example.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <{marker}@client.test>\r\n{extra_headers}\r\n"
            f"body line one\r\nmarker {marker}\r\n").encode()
