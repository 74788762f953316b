"""Integration tests for `petrel user add|passwd|remove|list` against the real binary.

Each test gets its own config file whose data_dir is a temp directory; passwords are checked
against the stored argon2id hashes with libsodium itself (through ctypes), so the test proves
what `petrel serve` will accept without needing a running server.
"""

import ctypes
import ctypes.util
import json
import os
import pty
import select
import sqlite3
import stat
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PETREL = os.environ.get("PETREL_BIN", str(REPO / "build" / "petrel"))


def _sodium():
    name = ctypes.util.find_library("sodium") or "libsodium.so.23"
    lib = ctypes.CDLL(name)
    assert lib.sodium_init() >= 0
    lib.crypto_pwhash_str_verify.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulonglong]
    lib.crypto_pwhash_str_verify.restype = ctypes.c_int
    return lib


SODIUM = _sodium()


@pytest.fixture
def deployment(tmp_path):
    data = tmp_path / "nested" / "data"  # does not exist yet: the CLI creates it
    cfg = tmp_path / "petrel.toml"
    cfg.write_text(
        f'data_dir = "{data}"\n'
        'hostname = "mx.example.test"\n'
        "[[listener]]\n"
        'kind = "mx"\n'
        'address = "127.0.0.1:0"\n'
    )
    return cfg, data


def petrel(cfg, *args, stdin="", timeout=30):
    return subprocess.run(
        [PETREL, "user", *args, "--config", str(cfg)],
        input=stdin.encode(),
        capture_output=True,
        timeout=timeout,
    )


def stored_hash(data, name):
    with sqlite3.connect(data / "store.sqlite") as db:
        row = db.execute("SELECT hash FROM users WHERE name = ?", (name,)).fetchone()
    return row[0] if row else None


def password_ok(data, name, password: bytes):
    h = stored_hash(data, name)
    assert h is not None, f"no user {name}"
    return SODIUM.crypto_pwhash_str_verify(h.encode(), password, len(password)) == 0


def list_json(cfg):
    r = petrel(cfg, "list", "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_add_reads_password_from_stdin(deployment):
    cfg, data = deployment
    r = petrel(cfg, "add", "app1@example.test", stdin="s3cret pass\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().strip() == "user app1@example.test added"
    assert r.stderr == b""
    assert password_ok(data, "app1@example.test", b"s3cret pass")
    assert not password_ok(data, "app1@example.test", b"s3cret pass\n")
    assert stored_hash(data, "app1@example.test").startswith("$argon2id$v=19$")


def test_trailing_crlf_is_stripped_and_only_first_line_read(deployment):
    cfg, data = deployment
    assert petrel(cfg, "add", "bob", stdin="pw\r\nsecond line\n").returncode == 0
    assert password_ok(data, "bob", b"pw")
    assert petrel(cfg, "add", "carol", stdin="no-newline").returncode == 0
    assert password_ok(data, "carol", b"no-newline")


def test_store_is_created_private_with_schema_version(deployment):
    cfg, data = deployment
    assert petrel(cfg, "add", "alice", stdin="pw\n").returncode == 0
    store = data / "store.sqlite"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_list_plain_and_json(deployment):
    cfg, _ = deployment
    assert list_json(cfg) == []
    r = petrel(cfg, "list")
    assert r.returncode == 0 and r.stdout == b""
    for name in ["zed", "app1@example.test", "bob"]:
        assert petrel(cfg, "add", name, stdin="pw\n").returncode == 0
    users = list_json(cfg)
    assert [u["name"] for u in users] == ["app1@example.test", "bob", "zed"]
    for u in users:
        time.strptime(u["created"], "%Y-%m-%dT%H:%M:%SZ")
    lines = petrel(cfg, "list").stdout.decode().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["app1@example.test", "bob", "zed"]


def test_passwd_changes_the_password(deployment):
    cfg, data = deployment
    assert petrel(cfg, "add", "alice", stdin="old\n").returncode == 0
    r = petrel(cfg, "passwd", "alice", stdin="new\n")
    assert r.returncode == 0, r.stderr
    assert "alice" in r.stdout.decode()
    assert password_ok(data, "alice", b"new")
    assert not password_ok(data, "alice", b"old")


def test_remove(deployment):
    cfg, data = deployment
    assert petrel(cfg, "add", "alice", stdin="pw\n").returncode == 0
    assert petrel(cfg, "add", "bob", stdin="pw\n").returncode == 0
    r = petrel(cfg, "remove", "alice")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().strip() == "user alice removed"
    assert [u["name"] for u in list_json(cfg)] == ["bob"]
    assert stored_hash(data, "alice") is None


def test_errors_exit_1_with_a_message(deployment):
    cfg, data = deployment
    assert petrel(cfg, "add", "alice", stdin="pw\n").returncode == 0

    r = petrel(cfg, "add", "alice", stdin="other\n")
    assert r.returncode == 1 and b"already exists" in r.stderr and r.stdout == b""
    assert password_ok(data, "alice", b"pw")

    r = petrel(cfg, "passwd", "nobody", stdin="pw\n")
    assert r.returncode == 1 and b"no such user" in r.stderr

    r = petrel(cfg, "remove", "nobody")
    assert r.returncode == 1 and b"no such user" in r.stderr

    for empty in ["", "\n", "\r\n"]:
        r = petrel(cfg, "add", "dave", stdin=empty)
        assert r.returncode == 1 and b"empty password" in r.stderr

    r = petrel(cfg, "add", "has space", stdin="pw\n")
    assert r.returncode == 1 and b"invalid user name" in r.stderr

    r = petrel(cfg, "add", "x" * 129, stdin="pw\n")
    assert r.returncode == 1 and b"invalid user name" in r.stderr

    r = petrel(cfg, "add", "eve", stdin="p" * 1025 + "\n")
    assert r.returncode == 1 and b"invalid password" in r.stderr

    assert [u["name"] for u in list_json(cfg)] == ["alice"]


def test_bad_config_is_reported(tmp_path):
    r = subprocess.run(
        [PETREL, "user", "list", "--config", str(tmp_path / "missing.toml")],
        capture_output=True,
        timeout=30,
    )
    assert r.returncode != 0
    assert b"missing.toml" in r.stderr


def test_config_option_accepted_on_the_user_command(deployment):
    cfg, _ = deployment
    r = subprocess.run(
        [PETREL, "user", "--config", str(cfg), "add", "alice"],
        input=b"pw\n",
        capture_output=True,
        timeout=30,
    )
    assert r.returncode == 0, r.stderr
    assert [u["name"] for u in list_json(cfg)] == ["alice"]


class Tty:
    """Runs `petrel user ...` with its stdin on a pseudo-terminal, stderr on a pipe."""

    def __init__(self, cfg, *args):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [PETREL, "user", *args, "--config", str(cfg)],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        os.close(slave)
        self.err = b""

    def wait_for(self, text: bytes, timeout=20):
        deadline = time.monotonic() + timeout
        while text not in self.err:
            left = deadline - time.monotonic()
            assert left > 0, f"timed out waiting for {text!r}; stderr so far {self.err!r}"
            ready, _, _ = select.select([self.proc.stderr], [], [], left)
            if ready:
                chunk = os.read(self.proc.stderr.fileno(), 4096)
                assert chunk, f"stderr closed before {text!r}: {self.err!r}"
                self.err += chunk

    def type(self, line: str):
        os.write(self.master, line.encode() + b"\n")

    def finish(self):
        out, err = self.proc.communicate(timeout=30)
        # What the terminal showed: the password must not have been echoed.
        self.screen = b""
        while select.select([self.master], [], [], 0)[0]:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # EIO: the child side is gone
                break
            if not chunk:
                break
            self.screen += chunk
        os.close(self.master)
        return self.proc.returncode, out, self.err + err


def test_terminal_prompts_twice(deployment):
    cfg, data = deployment
    t = Tty(cfg, "add", "alice")
    t.wait_for(b"Password for alice: ")
    t.type("typed secret")
    t.wait_for(b"Retype password: ")
    t.type("typed secret")
    rc, out, err = t.finish()
    assert rc == 0, err
    assert out.decode().strip() == "user alice added"
    assert password_ok(data, "alice", b"typed secret")
    assert b"typed secret" not in t.screen + out + err


def test_terminal_mismatch_is_refused(deployment):
    cfg, data = deployment
    t = Tty(cfg, "add", "alice")
    t.wait_for(b"Password for alice: ")
    t.type("one")
    t.wait_for(b"Retype password: ")
    t.type("two")
    rc, out, err = t.finish()
    assert rc == 1
    assert b"do not match" in err
    assert list_json(cfg) == []
