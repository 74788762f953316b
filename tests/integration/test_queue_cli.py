"""`petrel queue` against the real daemon (issue 3, "Control from the CLI"; docs/queue-cli.md):
list (human, --json, paging with --limit/--after and --all), show (--json, --raw byte-exact),
hold/release/flush, delete by ID and by recipient domain, exit codes (1 not found, 2 usage,
3 unavailable), the control socket itself (mode 0600, owner, stable error codes for bad
requests), and the offline path (no daemon: the spool is read directly).

Messages go to relay domains whose delivery cannot succeed here (DNS and the outbound port
point at closed loopback ports), so they stay in the queue whatever delivery does meanwhile.
"""
import json
import os
import pwd
import re
import smtplib
import socket
import stat
import subprocess
import uuid

import pytest

import petrel_spool
from petrel_harness import QUEUE_ID_RE, PetrelInstance, free_port, petrel_bin, wait_until

ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
MESSAGE_KEYS = {"id", "created", "age_seconds", "size", "sender", "recipients", "state",
                "attempts", "next_attempt", "last_error", "is_bounce"}
RECIPIENT_KEYS = {"address", "state", "attempts", "last_error"}


def overrides():
    return {
        "domains": {"local": ["example.test"], "relay": ["partner.test", "other.test"]},
        "delivery": {"mode": "mx"},
        "dns": {"servers": [f"127.0.0.1:{free_port()}"]},
        "testing": {"outbound_port": free_port()},
    }


@pytest.fixture
def daemon(petrel_factory):
    # No AUTH user: start() adds it every time, and these tests restart the daemon.
    return petrel_factory(overrides=overrides(), user=None)


def body(marker: str, subject: str = "queue cli") -> bytes:
    # A line starting with "." exercises dot-stuffing: --raw must show it unstuffed.
    return (f"From: sender@client.test\r\nTo: someone@partner.test\r\nSubject: {subject}\r\n"
            f"Message-ID: <{marker}@client.test>\r\n\r\nhello {marker}\r\n.leading dot\r\n"
            "last line\r\n").encode()


def send(inst, rcpts, sender="sender@client.test", msg: bytes | None = None) -> str:
    msg = msg or body(uuid.uuid4().hex)
    with smtplib.SMTP("127.0.0.1", inst.port("mx"), local_hostname="client.test", timeout=10) as s:
        s.ehlo("client.test")
        code, _ = s.mail(sender)
        assert code == 250
        for r in rcpts:
            code, resp = s.rcpt(r)
            assert code == 250, (r, code, resp)
        code, resp = s.data(msg)
        assert code == 250, resp
    qid = resp.decode().rsplit(" ", 1)[1]
    assert QUEUE_ID_RE.fullmatch(qid)
    return qid


def q(inst, *args, check=True):
    """Runs `petrel queue ARGS --config FILE`; returns the CompletedProcess."""
    cp = inst.cli("queue", *args, check=False)
    if check:
        assert cp.returncode == 0, f"queue {args}: exit {cp.returncode}\n{cp.stdout}\n{cp.stderr}"
    return cp


def q_json(inst, *args):
    return json.loads(q(inst, *args, "--json").stdout)


def raw_bytes(inst, qid) -> bytes:
    cp = subprocess.run([petrel_bin(), "queue", "show", qid, "--raw", "--config",
                         str(inst.config_path)], capture_output=True, timeout=30)
    assert cp.returncode == 0, cp.stderr
    return cp.stdout


def one_line_error(cp):
    err = cp.stderr.strip()
    assert err and "\n" not in err, f"expected one error line on stderr, got {cp.stderr!r}"
    assert err.startswith("petrel: "), err
    return err


# ---------------------------------------------------------------------------------------------

def test_list_json_contract(daemon):
    a = send(daemon, ["one@partner.test"])
    b = send(daemon, ["two@partner.test", "three@other.test"], sender="")
    page = q_json(daemon, "list")
    assert set(page) == {"total", "next_after", "messages"}
    assert page["total"] == 2 and page["next_after"] is None
    ids = [m["id"] for m in page["messages"]]
    assert ids == sorted([a, b]), "sorted by ID (= by time)"
    for m in page["messages"]:
        assert set(m) == MESSAGE_KEYS, set(m) ^ MESSAGE_KEYS
        assert ISO_RE.match(m["created"]), m["created"]
        assert isinstance(m["age_seconds"], int) and 0 <= m["age_seconds"] < 120
        assert m["size"] == len(raw_bytes(daemon, m["id"]))
        assert m["state"] in ("queued", "deferred")
        assert isinstance(m["is_bounce"], bool)
        assert m["next_attempt"] is None or ISO_RE.match(m["next_attempt"])
        for r in m["recipients"]:
            assert set(r) == RECIPIENT_KEYS
            assert r["state"] == "pending"
    by_id = {m["id"]: m for m in page["messages"]}
    assert by_id[a]["sender"] == "sender@client.test"
    assert by_id[b]["sender"] == "", "the null reverse-path <> is the empty string"
    assert by_id[a]["is_bounce"] is False
    assert [r["address"] for r in by_id[b]["recipients"]] == ["two@partner.test",
                                                              "three@other.test"]


def test_list_human_table_and_next_page_hint(daemon):
    ids = [send(daemon, [f"r{i}@partner.test"]) for i in range(3)]
    out = q(daemon, "list").stdout
    header = out.splitlines()[0]
    for col in ("ID", "AGE", "SIZE", "SENDER", "RECIPIENTS", "STATE", "NEXT ATTEMPT", "LAST ERROR"):
        assert col in header, header
    for qid in ids:
        assert qid in out
    assert "sender@client.test" in out and "r0@partner.test" in out
    assert "3 message(s) shown, 3 in the queue" in out
    paged = q(daemon, "list", "--limit", "2").stdout
    assert ids[2] not in paged
    assert f"Next page: petrel queue list --after {ids[1]} --limit 2" in paged


def test_paging_with_limit_after_and_all(daemon):
    ids = sorted(send(daemon, [f"p{i}@partner.test"]) for i in range(5))
    seen, after, pages = [], None, 0
    while True:
        args = ["list", "--limit", "2"] + (["--after", after] if after else [])
        page = q_json(daemon, *args)
        assert page["total"] == 5
        assert len(page["messages"]) <= 2
        seen += [m["id"] for m in page["messages"]]
        pages += 1
        after = page["next_after"]
        if after is None:
            break
        assert after == seen[-1]
        assert pages < 10
    assert seen == ids and pages == 3
    everything = q_json(daemon, "list", "--all")
    assert everything["next_after"] is None and everything["total"] == 5
    assert [m["id"] for m in everything["messages"]] == ids
    human_all = q(daemon, "list", "--all").stdout
    assert all(qid in human_all for qid in ids) and "Next page" not in human_all
    filtered = q_json(daemon, "list", "--domain", "PARTNER.test", "--limit", "3")
    assert len(filtered["messages"]) == 3 and filtered["next_after"] == ids[2]


def test_show_json_and_raw_byte_exact(daemon):
    marker = uuid.uuid4().hex
    sent = body(marker, subject="show me")
    qid = send(daemon, ["show@partner.test"], msg=sent)
    m = q_json(daemon, "show", qid)
    assert MESSAGE_KEYS <= set(m) and {"envelope", "headers"} <= set(m)
    env = m["envelope"]
    assert env["sender"] == "sender@client.test"
    assert [r["address"] for r in env["recipients"]] == ["show@partner.test"]
    assert env["params"]["body"] in ("7BIT", "8BITMIME")
    assert env["session"]["listener"] == "mx"
    assert env["session"]["client_ip"] == "127.0.0.1"
    assert env["session"]["helo"] == "client.test"
    headers = m["headers"]
    assert headers.startswith("Received: "), headers[:80]
    assert "Subject: show me\r\n" in headers and f"<{marker}@client.test>" in headers
    assert "hello " not in headers, "the body is not part of the header block"

    raw = raw_bytes(daemon, qid)
    assert raw.endswith(sent), "the sent message, unstuffed, is the tail of --raw"
    prefix = raw[: len(raw) - len(sent)]
    assert prefix.startswith(b"Received: ") and prefix.endswith(b"\r\n")
    assert b"\r\n\r\n" not in prefix and b"by mx.example.test" in prefix
    assert daemon.stored_message(qid) == raw, "--raw is the message bytes of its spool record"
    assert m["size"] == len(raw)

    human = q(daemon, "show", qid).stdout
    assert qid in human and "show@partner.test" in human and "Subject: show me" in human


def test_hold_release_flush(daemon):
    a = send(daemon, ["h1@partner.test"])
    b = send(daemon, ["h2@partner.test"])
    assert q_json(daemon, "hold", a) == {"ok": True, "affected": 1}
    states = {m["id"]: m["state"] for m in q_json(daemon, "list")["messages"]}
    assert states[a] == "held" and states[b] != "held"
    assert q_json(daemon, "show", a)["next_attempt"] is None
    assert [m["id"] for m in q_json(daemon, "list")["messages"] if m["state"] == "held"] == [a]
    # flush without ID: every message not on hold.
    assert q_json(daemon, "flush") == {"ok": True, "affected": 1}
    assert "1 message(s) flushed" in q(daemon, "flush").stdout
    assert q_json(daemon, "show", a)["state"] == "held", "flush does not release"
    assert f"message {a} released" in q(daemon, "release", a).stdout
    assert q_json(daemon, "show", a)["state"] in ("queued", "deferred")
    assert q_json(daemon, "flush", a) == {"ok": True, "affected": 1}
    assert f"message {b} held" in q(daemon, "hold", b).stdout


def test_delete_by_id_and_by_domain(daemon):
    keep = send(daemon, ["k@partner.test"])
    gone = send(daemon, ["g@partner.test"])
    d1 = send(daemon, ["x@other.test"])
    d2 = send(daemon, ["y@partner.test", "z@other.test"])
    assert q_json(daemon, "delete", gone) == {"ok": True, "affected": 1}
    assert q(daemon, "show", gone, check=False).returncode == 1
    # The delete answers after its tombstone is durable: the record is no longer live on disk.
    assert gone not in petrel_spool.live_records(daemon.spool_dir())
    assert keep in petrel_spool.live_records(daemon.spool_dir())
    out = q(daemon, "delete", "--domain", "Other.Test").stdout
    assert "2 message(s) with a recipient in Other.Test deleted" in out
    left = [m["id"] for m in q_json(daemon, "list")["messages"]]
    assert left == [keep], (left, d1, d2)
    assert q_json(daemon, "delete", "--domain", "other.test") == {"ok": True, "affected": 0}


def test_not_found_bad_id_and_usage_exit_codes(daemon):
    send(daemon, ["n@partner.test"])
    missing = "0000000000000z"
    for args in (["show", missing], ["hold", missing], ["release", missing],
                 ["delete", missing], ["flush", missing], ["show", missing, "--json"]):
        cp = q(daemon, *args, check=False)
        assert cp.returncode == 1, (args, cp.returncode, cp.stderr)
        assert missing in one_line_error(cp) and cp.stdout == ""
    for bad in ("nope", "0000000000000Z", "../../etc/pass", "0000000000000z0"):
        cp = q(daemon, "show", bad, check=False)
        assert cp.returncode == 2, (bad, cp.stderr)
        assert "invalid queue ID" in one_line_error(cp)
    for args in (["delete"], ["delete", missing, "--domain", "a.test"], ["hold"],
                 ["list", "--limit", "0"], ["list", "--limit", "10001"], ["list", "--state", "x"],
                 ["list", "--after", "bad"], ["frobnicate"], [], ["delete", "--domain", "bad domain"]):
        cp = q(daemon, *args, check=False)
        assert cp.returncode == 2, (args, cp.returncode, cp.stdout, cp.stderr)


def _control(path, payload: bytes, timeout=10.0, wait_close=False) -> tuple[dict | None, bool]:
    """Sends raw bytes on the control socket; returns (first response line, and with
    `wait_close` whether the daemon then closed the connection within `timeout`)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(payload)
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
        line, _, rest = buf.partition(b"\n")
        closed = False
        if not wait_close:
            return (json.loads(line) if line else None), closed
        try:
            closed = rest == b"" and s.recv(1) == b""
        except ConnectionResetError:
            closed = True  # the daemon closed with our unread excess in its buffer
        except socket.timeout:
            closed = False
        return (json.loads(line) if line else None), closed


def test_control_socket_mode_owner_and_error_codes(daemon):
    path = daemon.data_dir / "control.sock"
    st = os.lstat(path)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
    expected_uid = pwd.getpwnam("nobody").pw_uid if os.geteuid() == 0 else os.geteuid()
    assert st.st_uid == expected_uid, "owned by the user petrel runs as after the drop"

    def code(resp):
        assert resp is not None and resp["ok"] is False, resp
        assert set(resp["error"]) == {"code", "message"}
        return resp["error"]["code"]

    resp, _ = _control(path, b"this is not json\n")
    assert code(resp) == "invalid_request"
    resp, _ = _control(path, b'{"command":"selfdestruct"}\n')
    assert code(resp) == "invalid_request" and resp["error"]["message"] == "unknown command"
    resp, _ = _control(path, b'{"command":"show","id":"0000000000000z"}\n')
    assert code(resp) == "not_found"
    # Over 64 KiB without a newline: an error, then the daemon closes the connection.
    resp, closed = _control(path, b'{"command":"list","domain":"' + b"a" * 70000, wait_close=True)
    assert code(resp) == "invalid_request" and "longer than 65536" in resp["error"]["message"]
    assert closed
    # Several requests on one connection, answered in order.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(str(path))
        s.sendall(b'{"command":"list","limit":1}\n{"command":"list","limit":1}\n')
        buf = b""
        while buf.count(b"\n") < 2:
            chunk = s.recv(65536)
            assert chunk
            buf += chunk
        a, b_ = [json.loads(x) for x in buf.split(b"\n")[:2]]
        assert a["ok"] and b_["ok"] and a["total"] == b_["total"] == 0
    daemon.check_health()


def test_offline_list_show_and_hold_from_the_spool(daemon):
    ids = sorted([send(daemon, ["o1@partner.test"]), send(daemon, ["o2@other.test"])])
    online = q_json(daemon, "list")
    raw_online = raw_bytes(daemon, ids[0])
    daemon.stop()
    assert not (daemon.data_dir / "control.sock").exists(), "a clean stop removes the socket"
    offline = q_json(daemon, "list")
    assert [m["id"] for m in offline["messages"]] == ids
    assert offline["total"] == online["total"] == 2
    for a, b in zip(online["messages"], offline["messages"]):
        assert {k: v for k, v in a.items() if k != "age_seconds"} == \
               {k: v for k, v in b.items() if k != "age_seconds"}
    assert raw_bytes(daemon, ids[0]) == raw_online
    # Mutations offline hold the spool lock too: what an operator wants after a crash.
    assert q_json(daemon, "hold", ids[1]) == {"ok": True, "affected": 1}
    assert q_json(daemon, "show", ids[1])["state"] == "held"
    # After a restart the daemon sees the hold (it is durable), and serves the socket again.
    daemon.start()
    assert q_json(daemon, "show", ids[1])["state"] == "held"


def test_stale_socket_after_kill_and_unanswered_socket(daemon):
    qid = send(daemon, ["s@partner.test"])
    sock = daemon.data_dir / "control.sock"
    # Socket file gone while the daemon runs (holding the spool lock): exit 3, say why.
    sock.unlink()
    cp = q(daemon, "list", check=False)
    assert cp.returncode == 3, cp
    assert "in use by another petrel" in one_line_error(cp)
    # kill -9 leaves nothing listening: offline works, and a restart replaces the stale socket.
    daemon.kill()
    assert q_json(daemon, "list")["messages"][0]["id"] == qid
    daemon.start()
    wait_until(lambda: sock.exists(), 10, what="control socket after restart")
    assert q_json(daemon, "show", qid)["id"] == qid


def test_no_daemon_and_no_spool_is_unavailable(workdir):
    inst = PetrelInstance(workdir / "never-started", user=None)
    inst.write_config()
    cp = inst.cli("queue", "list", check=False)
    assert cp.returncode == 3
    assert "not running" in one_line_error(cp)


def test_global_config_option_before_queue(daemon):
    qid = send(daemon, ["g@partner.test"])
    cp = subprocess.run([petrel_bin(), "--config", str(daemon.config_path), "queue", "list",
                         "--json"], capture_output=True, text=True, timeout=30)
    assert cp.returncode == 0, cp.stderr
    assert [m["id"] for m in json.loads(cp.stdout)["messages"]] == [qid]
