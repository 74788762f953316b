"""delivery_env — the shared set-up of the outbound delivery tests (tests/integration/test_delivery*.py):
a dnsmasq zone `test` whose MX and A records point at 127.0.0.x, a petrel in `mx` mode with
short retry and back-off times whose outbound port is the receivers' port (`[testing]
outbound_port`), and small helpers to send through petrel's mx listener and read its queue and
its reports (DSNs, parsed with Python's `email`). Only loopback addresses.
"""
from __future__ import annotations

import email
import email.policy
import json
import smtplib
import subprocess
import uuid

from dns_server import DnsServer
from petrel_harness import wait_until

HOSTS = [f"127.0.0.{i}" for i in range(2, 10)]
SENDER = "alice@sender.test"
SENDER_MX = "127.0.0.9"  # the sender's domain: where reports (DSNs) go
RELAY_DOMAINS = ["dest.test", "plain.test", "nullmx.test", "secure.test", "sender.test"]


def dns_for(**extra) -> DnsServer:
    mx = [("dest.test", "mx1.dest.test", 10), ("dest.test", "mx2.dest.test", 20),
          ("dest.test", "mx3.dest.test", 30),
          ("nullmx.test", ".", 0),
          ("secure.test", "mx.secure.test", 10),
          ("sender.test", "mx.sender.test", 10),
          ("down.test", "mx1.dest.test", 10)]
    mx += extra.pop("mx", [])
    a = {"mx1.dest.test": ["127.0.0.2"], "mx2.dest.test": ["127.0.0.3"],
         "mx3.dest.test": ["127.0.0.4"], "plain.test": ["127.0.0.5"],
         "mx.secure.test": ["127.0.0.7"], "mx.sender.test": [SENDER_MX]}
    a.update(extra.pop("a", {}))
    return DnsServer("test", mx=mx, a=a, ttl=60, **extra)


def start(factory, dns, port, delivery=None, **more):
    """A petrel in mx mode delivering to `port`; `delivery` keys override the short defaults,
    `more` replaces whole top-level tables (e.g. domains=...)."""
    d = {"mode": "mx", "paused": False, "first_retry_seconds": 1, "max_retry_seconds": 2,
         "destination_backoff_seconds": 1, "idle_timeout_seconds": 1,
         "delay_warning_seconds": 0}
    d.update(delivery or {})
    overrides = {"domains": {"local": ["example.test"], "relay": RELAY_DOMAINS},
                 "delivery": d,
                 "dns": {"servers": [dns.address], "timeout_ms": 500, "attempts": 1},
                 "testing": {"outbound_port": port}}
    overrides.update(more)
    return factory(overrides=overrides, user=None)


def body(marker: str, extra: str = "") -> bytes:
    return (f"From: {SENDER}\r\nTo: someone@dest.test\r\nSubject: delivery {marker}\r\n"
            f"Message-ID: <{marker}@sender.test>\r\n\r\nhello {marker}\r\n{extra}").encode()


def send(inst, rcpts, sender=SENDER, msg=None, mail_options=(), rcpt_options=()) -> str:
    """One message through petrel's mx listener; returns its queue ID."""
    marker = uuid.uuid4().hex
    msg = msg or body(marker)
    with smtplib.SMTP("127.0.0.1", inst.port("mx"), local_hostname="client.test", timeout=10) as s:
        s.ehlo("client.test")
        code, resp = s.mail(sender, list(mail_options))
        assert code == 250, resp
        for r in rcpts:
            code, resp = s.rcpt(r, list(rcpt_options))
            assert code == 250, (r, code, resp)
        code, resp = s.data(msg)
        assert code == 250, resp
    return resp.decode().rsplit(" ", 1)[1]


def queue_list(inst):
    cp = inst.cli("queue", "list", "--json", check=False)
    assert cp.returncode == 0, cp.stderr
    return json.loads(cp.stdout)["messages"]


def wait_queue_empty(inst, timeout=30):
    wait_until(lambda: not queue_list(inst), timeout, interval=0.2, what="an empty queue")


def parse(data: bytes):
    return email.message_from_bytes(data, policy=email.policy.compat32)


def report_blocks(msg):
    """[per-message fields, per-recipient fields...] of the delivery-status part."""
    assert msg.get_content_type() == "multipart/report", msg.get_content_type()
    assert msg.get_param("report-type") == "delivery-status"
    parts = msg.get_payload()
    status = [p for p in parts if p.get_content_type() == "message/delivery-status"]
    assert len(status) == 1
    return status[0].get_payload()


def make_cert(tmp, name="smarthost.test"):
    """A self-signed P-256 certificate for `name`: (cert path, key path)."""
    cert, key = str(tmp / "cert.pem"), str(tmp / "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "2", "-subj", f"/CN={name}"], check=True, capture_output=True)
    return cert, key
