"""petrel_queue — look into a petrel queue from tests: `petrel queue` (list --json, show --raw,
hold, delete), a plain smtplib sender that reports the reply of each stage, and a config that
keeps mail queued.

The CLI contract relied on (issue 3, "Control from the CLI"):
  petrel --config FILE queue list --json --all   -> ONE JSON object
      {"total": N, "next_after": null, "messages": [{"id", "state", "recipients": [...], ...}]}
  petrel --config FILE queue show ID --raw       -> the stored message bytes on stdout
When the daemon is stopped, the same commands read the spool directly.

Trust: everything read from petrel (CLI output, spool files, SMTP replies) is untrusted test
input: parsed strictly, failures are assertion errors that quote it.
"""
from __future__ import annotations

import json
import os
import random
import re
import smtplib
import subprocess
import time

from petrel_harness import QUEUE_ID_RE, free_port, petrel_bin

CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
MESSAGE_ID_RE = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)
QUEUED_AS_RE = re.compile(r"^2\.0\.0 Ok: queued as ([0-9a-hjkmnp-tv-z]{14})$")


def keep_queued_config() -> dict:
    """Config keys under which accepted mail stays in the queue: `mx` delivery mode, recipients in
    the relay domain `partner.test`, and a DNS resolver on a loopback port where nothing listens,
    so any delivery attempt (issue 4) fails temporarily and the message stays queued/deferred.
    Chosen over `sandbox` mode so the tests exercise the normal (non-captured) queue path."""
    return {"delivery": {"mode": "mx"}, "dns": {"servers": [f"127.0.0.1:{free_port()}"]}}


RECIPIENT = "someone@partner.test"
SENDER = "sender@client.test"


def new_queue_id(offset_us: int = 0) -> str:
    """A fresh, valid queue ID (base/ids.h layout: 11 base32 digits of microseconds, 3 random)."""
    us = time.time_ns() // 1000 + offset_us
    digits = []
    for _ in range(11):
        digits.append(CROCKFORD[us & 31])
        us >>= 5
    tail = "".join(random.choice(CROCKFORD) for _ in range(3))
    qid = "".join(reversed(digits)) + tail
    assert QUEUE_ID_RE.fullmatch(qid)
    return qid


def make_message(msgid: str, size: int = 1024, subject: str = "durability") -> bytes:
    """A message with CRLF line ends, no line starting with '.', about `size` bytes."""
    head = (f"From: {SENDER}\r\nTo: {RECIPIENT}\r\nSubject: {subject}\r\n"
            f"Message-ID: {msgid}\r\n\r\n").encode()
    line = (msgid.strip("<>") + " ").encode() * 4
    body = b""
    while len(head) + len(body) < size:
        body += line[:70] + b"\r\n"
    return head + body


def message_id_of(raw: bytes) -> str | None:
    m = MESSAGE_ID_RE.search(raw.split(b"\r\n\r\n", 1)[0])
    return m.group(1).decode() if m else None


class SendResult:
    def __init__(self, stage: str, code: int, text: str):
        self.stage, self.code, self.text = stage, code, text

    @property
    def enhanced(self) -> str:
        return self.text.split(" ", 1)[0]

    @property
    def queue_id(self) -> str | None:
        m = QUEUED_AS_RE.match(self.text)
        return m.group(1) if self.code == 250 and m else None

    def __repr__(self):
        return f"{self.stage}: {self.code} {self.text}"


def send(smtp: smtplib.SMTP, message: bytes, rcpt: str = RECIPIENT) -> SendResult:
    """One transaction on an open smtplib connection; stops at the first non-2xx/354 reply
    (RSET after a refusal). Returns the reply of the stage that ended it ("data" on success)."""
    smtp.ehlo_or_helo_if_needed()
    for stage, call in (("mail", lambda: smtp.mail(SENDER)), ("rcpt", lambda: smtp.rcpt(rcpt))):
        code, text = call()
        if code != 250:
            smtp.rset()
            return SendResult(stage, code, text.decode(errors="replace"))
    code, text = smtp.data(message)
    return SendResult("data", code, text.decode(errors="replace"))


def send_one(port: int, message: bytes, rcpt: str = RECIPIENT) -> SendResult:
    with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test", timeout=15) as s:
        return send(s, message, rcpt)


class QueueView:
    """The queue of one PetrelInstance, through `petrel queue`."""

    def __init__(self, inst):
        self.inst = inst

    def list(self) -> dict[str, dict]:
        """id -> message object of `queue list --json --all`, checked against the contract."""
        cp = run_queue_cli(self.inst, "list", "--json", "--all")
        try:
            doc = json.loads(cp.stdout)
        except ValueError as e:
            raise AssertionError(f"queue list --json is not one JSON object ({e}): "
                                 f"{cp.stdout[:500]!r}")
        msgs = doc["messages"]
        assert doc["total"] == len(msgs), f"total {doc['total']} != {len(msgs)} listed"
        assert doc["next_after"] is None, "--all must return every message in one page"
        out = {}
        for m in msgs:
            assert QUEUE_ID_RE.fullmatch(m["id"]), f"bad queue ID in list: {m['id']!r}"
            assert m["id"] not in out, f"queue ID {m['id']} listed twice"
            out[m["id"]] = m
        return out

    def raw(self, qid: str) -> bytes:
        return run_queue_cli(self.inst, "show", qid, "--raw").stdout

    def control(self, verb: str, qid: str):
        """hold, release, delete, flush: exit 0 means the change is durable (issue 3)."""
        run_queue_cli(self.inst, verb, qid)


def run_queue_cli(inst, *args: str, check: bool = True, timeout: float = 30.0):
    cmd = [petrel_bin(), "--config", str(inst.config_path), "queue", *args]
    cp = subprocess.run(cmd, capture_output=True, timeout=timeout, cwd=inst.workdir)
    if check and cp.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {cp.returncode}\n"
                             f"stdout: {cp.stdout[:2000]!r}\nstderr: {cp.stderr[:2000]!r}")
    return cp


def spool_tmp_entries(inst) -> list[str]:
    d = inst.spool_dir() / "tmp"
    return sorted(os.listdir(d)) if d.exists() else []
