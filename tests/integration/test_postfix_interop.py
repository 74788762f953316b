"""Postfix → petrel interoperability (issue 4 asks for one test in each direction; petrel →
Postfix is test_delivery.py::test_interop_delivers_to_postfix). A private Postfix
(tests/lib/postfix_relay.py: its own config and queue, qmgr and smtp client running) takes a
message on its smtpd and relays it with `relayhost = [127.0.0.1]:<petrel's mx port>`; petrel
accepts it for its local domain and stores it in the Maildir with the headers intact, plus
Postfix's Received field and its own.
"""
import email
import smtplib
import uuid

import pytest

from petrel_harness import wait_until
from postfix_relay import PostfixRelay, available

if not available():
    pytest.skip("postfix not installed", allow_module_level=True)


def test_postfix_relays_to_petrel_mx_listener(petrel_factory, workdir):
    inst = petrel_factory(overrides={"delivery": {"mode": "mx", "paused": False},
                                     "domains": {"local": ["example.test"], "relay": []}},
                          user=None)
    marker = uuid.uuid4().hex
    headers = (f"From: Pat Sender <pat@origin.test>\r\nTo: rita@example.test\r\n"
               f"Subject: via postfix {marker}\r\nMessage-ID: <{marker}@origin.test>\r\n"
               f"X-Trace: kept as is {marker}\r\n")
    msg = (headers + f"\r\nbody line {marker}\r\n.dot line\r\n").encode()
    with PostfixRelay(workdir / "pf", next_hop_port=inst.port("mx")) as pf:
        with smtplib.SMTP("127.0.0.1", pf.port, local_hostname="client.test", timeout=10) as s:
            s.sendmail("pat@origin.test", ["rita@example.test"], msg)
        [line] = pf.wait_sent(1)
        assert f"relay=127.0.0.1[127.0.0.1]:{inst.port('mx')}" in line, line
        assert "250 2.0.0 Ok: queued as " in line, line
        root = inst.data_dir / "mail"
        [path] = wait_until(lambda: [p for p in root.glob("rita/Maildir/new/*")
                                     if marker.encode() in p.read_bytes()],
                            20, what="the message in rita's Maildir")
        stored = path.read_bytes().decode()
        head, _, stored_body = stored.partition("\n\n")
        assert head.startswith("Return-Path: <pat@origin.test>\nDelivered-To: rita@example.test\n")
        for h in headers.split("\r\n")[:-1]:
            assert h in head.split("\n"), f"header {h!r} changed or missing:\n{head}"
        received = email.message_from_string(stored).get_all("Received")
        assert len(received) == 2, head  # petrel's (first), then Postfix's
        assert received[0].startswith("from pf.relay.test "), "petrel names Postfix's EHLO"
        assert "with ESMTPS" in received[0], "Postfix used petrel's STARTTLS"
        assert "by pf.relay.test (Postfix)" in received[1]
        assert f"body line {marker}\n.dot line\n" == stored_body
        qid = line.rsplit("queued as ", 1)[1].rstrip(")")
        wait_until(lambda: f"qid={qid} to=<rita@example.test> relay=mx.example.test status=sent"
                   in inst.output(), 10, what="petrel's delivery log line")
