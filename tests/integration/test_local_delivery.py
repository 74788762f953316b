"""Local domains (issue 4, "Routing choices: Local domains"; docs/delivery.md "Local delivery"):
unknown local users are refused at RCPT time with 550 5.1.1 (never bounced later), known users,
aliases and postmaster are accepted, and a message for a local user lands in that user's
Maildir/new (tmp → fsync → rename → fsync of new/), intact after the two headers petrel adds.
Real clients: smtplib and swaks; the real binary; strace (when installed) shows the fsync order.
"""
import os
import pwd
import re
import shutil
import signal
import smtplib
import ssl
import subprocess
import time
import uuid

import pytest

from petrel_harness import PASSWORD, USER, wait_until

LOCAL = {"users": ["alice", "bob"], "aliases": {"info": "bob"}}
WITH_USERS = {"local": LOCAL}
DELIVERING = {"local": LOCAL, "delivery": {"mode": "mx", "paused": False}}


def rcpt_replies(inst, rcpts, listener="mx"):
    """RCPT TO each of `rcpts` in one transaction over smtplib; {rcpt: (code, text)}."""
    out = {}
    with smtplib.SMTP("127.0.0.1", inst.port(listener), local_hostname="client.test", timeout=10) as s:
        s.ehlo("client.test")
        if listener == "submission":
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            s.starttls(context=ctx)
            s.ehlo("client.test")
            s.login(USER, PASSWORD)
        code, resp = s.mail("sender@client.test")
        assert code == 250, resp
        for r in rcpts:
            code, resp = s.rcpt(r)
            out[r] = (code, resp.decode())
        s.rset()
    return out


def assert_unknown(reply, rcpt):
    code, text = reply
    assert code == 550 and text.startswith("5.1.1"), f"RCPT TO:<{rcpt}> -> {code} {text}"
    assert "alice" not in text and "bob" not in text, "the reply must name no configuration"


@pytest.mark.petrel_config(WITH_USERS)
def test_unknown_local_user_is_refused_at_rcpt_with_smtplib(petrel):
    unknown = ["carol@example.test", "Carol@EXAMPLE.test", "alice.smith@example.test",
               "\"../alice\"@example.test", "carol@xn--bcher-kva.test"]
    got = rcpt_replies(petrel, unknown)
    for r in unknown:
        assert_unknown(got[r], r)
    # A whole transaction with only unknown recipients never reaches DATA.
    with smtplib.SMTP("127.0.0.1", petrel.port("mx"), local_hostname="client.test", timeout=10) as s:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            s.sendmail("sender@client.test", ["carol@example.test"], b"Subject: x\r\n\r\nx\r\n")
        assert e.value.recipients["carol@example.test"][0] == 550


@pytest.mark.petrel_config(WITH_USERS)
def test_known_users_aliases_and_postmaster_are_accepted(petrel):
    known = ["alice@example.test", "ALICE@Example.Test", "\"bob\"@example.test", "info@example.test",
             "postmaster@example.test", "PostMaster@xn--bcher-kva.test", "bob@xn--bcher-kva.test",
             "Postmaster", "someone@partner.test"]   # a relay domain: not a local user table
    got = rcpt_replies(petrel, known)
    for r in known:
        assert got[r][0] == 250, f"RCPT TO:<{r}> -> {got[r]}"
    assert re.search(r"local recipients: 2 user\(s\), 2 alias\(es\)", petrel.output()), petrel.log_tail()


@pytest.mark.petrel_config(WITH_USERS)
def test_swaks_unknown_user_550_and_known_user_delivered_to_queue(petrel):
    base = ["swaks", "--server", "127.0.0.1", "--port", str(petrel.port("mx")),
            "--from", "sender@client.test", "--helo", "client.test", "--timeout", "10"]
    cp = subprocess.run(base + ["--to", "nobody@example.test"], capture_output=True, text=True,
                        timeout=30)
    assert cp.returncode != 0, cp.stdout
    assert re.search(r"<\*\* 550 5\.1\.1 ", cp.stdout), cp.stdout
    cp = subprocess.run(base + ["--to", "alice@example.test"], capture_output=True, text=True,
                        timeout=30)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    assert re.search(r"<- {2}250 2\.0\.0 Ok: queued as ", cp.stdout), cp.stdout


@pytest.mark.petrel_config(WITH_USERS)
def test_submission_to_unknown_local_user_is_refused_too(petrel):
    got = rcpt_replies(petrel, ["carol@example.test", "alice@example.test", "x@elsewhere.test"],
                       listener="submission")
    assert_unknown(got["carol@example.test"], "carol@example.test")
    assert got["alice@example.test"][0] == 250
    assert got["x@elsewhere.test"][0] == 250, "authenticated: relaying is allowed"


def test_no_users_means_catch_all_and_it_is_logged(petrel_factory):
    inst = petrel_factory()
    got = rcpt_replies(inst, ["anyone@example.test", "\"quoted user\"@example.test"])
    assert all(c == 250 for c, _ in got.values()), got
    assert "local recipients: catch-all" in inst.output(), inst.log_tail()


def test_store_users_are_local_users_when_enabled_and_sighup_rereads_them(petrel_factory):
    # The harness adds the store user app1@example.test.
    inst = petrel_factory(overrides={"local": {"use_store_users": True}})
    got = rcpt_replies(inst, ["app1@example.test", "someone@example.test", "postmaster@example.test"])
    assert got["app1@example.test"][0] == 250
    assert_unknown(got["someone@example.test"], "someone@example.test")
    assert got["postmaster@example.test"][0] == 250, "postmaster defaults to the first user"

    inst.add_user("someone", "another password")
    assert_unknown(rcpt_replies(inst, ["someone@example.test"])["someone@example.test"], "someone")
    before = inst.output().count("SIGHUP: local recipients")
    os.kill(inst.pid, signal.SIGHUP)
    wait_until(lambda: inst.output().count("SIGHUP: local recipients") > before, 10,
               what="the SIGHUP reload line")
    assert rcpt_replies(inst, ["someone@example.test"])["someone@example.test"][0] == 250


# --- end to end: SMTP in, Maildir out -------------------------------------------------------

def message(marker: str) -> bytes:
    return (f"From: sender@client.test\r\nTo: info@example.test\r\nSubject: local {marker}\r\n"
            f"Message-ID: <{marker}@client.test>\r\n\r\nfirst line\r\n.leading dot\r\n"
            f"\r\nmarker {marker}\r\n").encode()


def maildir_files(inst, user, sub="new"):
    d = inst.data_dir / "mail" / user / "Maildir" / sub
    return sorted(d.iterdir()) if d.is_dir() else []


def wait_delivered(inst, user, marker, timeout=20):
    return wait_until(lambda: [p for p in maildir_files(inst, user) if marker.encode() in p.read_bytes()],
                      timeout, interval=0.05, what=f"a message in {user}'s Maildir/new")


def send(inst, rcpts, msg, sender="sender@client.test"):
    with smtplib.SMTP("127.0.0.1", inst.port("mx"), local_hostname="client.test", timeout=10) as s:
        refused = s.sendmail(sender, rcpts, msg)
        assert not refused, refused


def check_stored(path, msg, sender, delivered_to):
    data = path.read_bytes()
    head = f"Return-Path: <{sender}>\nDelivered-To: {delivered_to}\n".encode()
    assert data.startswith(head), data[:200]
    rest = data[len(head):]
    # Then petrel's Received line (RFC 5321 §4.4), then the message exactly, CRLF stored as LF.
    assert rest.startswith(b"Received: from client.test"), rest[:200]
    assert rest.endswith(msg.replace(b"\r\n", b"\n")), rest[-300:]
    assert b"\r" not in data


@pytest.mark.petrel_config(DELIVERING)
def test_message_lands_in_the_users_maildir_intact(petrel):
    marker = uuid.uuid4().hex
    msg = message(marker)
    # postmaster is an alias of the first user: alice gets two copies (two recipients).
    send(petrel, ["alice@example.test", "Info@example.test", "postmaster@example.test"], msg)
    expected = {"alice": ["alice@example.test", "postmaster@example.test"],
                "bob": ["Info@example.test"]}
    for user, delivered_to in expected.items():
        found = wait_until(lambda: len(f := [p for p in maildir_files(petrel, user)
                                             if marker.encode() in p.read_bytes()]) >= len(delivered_to) and f,
                           20, interval=0.05, what=f"{len(delivered_to)} message(s) in {user}'s Maildir/new")
        assert len(found) == len(delivered_to), found
        got = sorted(re.search(rb"^Delivered-To: (.*)$", p.read_bytes(), re.M).group(1).decode()
                     for p in found)
        assert got == sorted(delivered_to), got
        for path in found:
            to = re.search(rb"^Delivered-To: (.*)$", path.read_bytes(), re.M).group(1).decode()
            check_stored(path, msg, "sender@client.test", to)
            st = path.stat()
            assert st.st_mode & 0o777 == 0o600
            if os.geteuid() == 0:  # petrel dropped privileges: the files are the runtime user's
                assert st.st_uid == pwd.getpwnam("nobody").pw_uid
        assert maildir_files(petrel, user, "tmp") == [], "tmp/ is empty after the rename"
        assert (petrel.data_dir / "mail" / user).stat().st_mode & 0o777 == 0o700
    assert not (petrel.data_dir / "mail" / "postmaster").exists()
    assert not (petrel.data_dir / "mail" / "info").exists()


@pytest.mark.petrel_config(DELIVERING)
def test_null_sender_gets_empty_return_path(petrel):
    marker = uuid.uuid4().hex
    msg = message(marker)
    send(petrel, ["bob@example.test"], msg, sender="")
    found = wait_delivered(petrel, "bob", marker)
    check_stored(found[0], msg, "", "bob@example.test")


def syscalls_by_thread(text: str) -> dict:
    """strace -f output → {tid: [complete call lines]}, with "<unfinished ...>" and
    "<... X resumed>" halves joined."""
    calls, pending = {}, {}
    for line in text.splitlines():
        m = re.match(r"^(\d+)\s+(.*)$", line)
        if not m:
            continue
        tid, rest = m.groups()
        if rest.endswith("<unfinished ...>"):
            pending[tid] = rest[: -len("<unfinished ...>")]
            continue
        r = re.match(r"^<\.\.\. \w+ resumed>(.*)$", rest)
        if r:
            rest = pending.pop(tid, "") + r.group(1)
        calls.setdefault(tid, []).append(rest)
    return calls


def maildir_steps(text: str, name: str):
    """The calls of the thread that delivered `name`: (create, fsync file, rename, fsync new/)
    as indexes into its call list, or None while incomplete."""
    for calls in syscalls_by_thread(text).values():
        created = next((i for i, c in enumerate(calls)
                        if c.startswith("openat(") and f'"{name}"' in c and "O_CREAT" in c), None)
        if created is None:
            continue
        fd = re.search(r"= (\d+)$", calls[created]).group(1)
        renamed = next((i for i, c in enumerate(calls) if c.startswith("renameat2(") and name in c
                        and c.endswith("= 0")), None)
        synced = next((i for i, c in enumerate(calls) if c == f"fsync({fd}) = 0" or
                       re.fullmatch(rf"fsync\({fd}\)\s+= 0", c)), None)
        if renamed is None or synced is None:
            return None
        new_fd = re.match(r"renameat2\(\d+, \"[^\"]+\", (\d+),", calls[renamed]).group(1)
        dir_synced = next((i for i, c in enumerate(calls) if i > renamed and
                           re.fullmatch(rf"fsync\({new_fd}\)\s+= 0", c)), None)
        if dir_synced is None:
            return None
        return created, synced, renamed, dir_synced
    return None


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
@pytest.mark.petrel_config(DELIVERING)
def test_write_fsync_rename_fsync_order(petrel, workdir):
    """strace on the running daemon: the file in tmp/ is fsynced before the rename into new/,
    and new/ is fsynced after it (the durability steps of docs/delivery.md)."""
    log, diag = workdir / "strace.log", workdir / "strace.err"
    with open(diag, "wb") as err:
        tracer = subprocess.Popen(["strace", "-f", "-e", "trace=openat,fsync,renameat2,linkat",
                                   "-o", str(log), "-p", str(petrel.pid)],
                                  stdout=subprocess.DEVNULL, stderr=err)
    try:
        # strace says "Process N attached with T threads" once every thread is traced (its -o
        # log is written buffered, so it is read only after strace has detached).
        wait_until(lambda: "attached" in diag.read_text(), 10, what="strace to attach")
        marker = uuid.uuid4().hex
        send(petrel, ["alice@example.test"], message(marker))
        name = wait_delivered(petrel, "alice", marker)[0].name
        # The attempt is recorded (the queue empties) only after deliver() returned: after the
        # last fsync.
        wait_until(lambda: '"messages": []' in petrel.cli("queue", "list", "--json").stdout.replace(
            '"messages":[]', '"messages": []'), 20, interval=0.1, what="an empty queue")
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=10)
    steps = maildir_steps(log.read_text(), name)
    assert steps, log.read_text()[-3000:]
    created, synced, renamed, dir_synced = steps
    assert created < synced < renamed < dir_synced, steps
