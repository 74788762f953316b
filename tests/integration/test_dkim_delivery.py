"""DKIM signing in delivery (issue 5; docs/dkim.md "Signing outbound mail") end to end on
loopback: `petrel dkim keygen` writes an RSA and an Ed25519 key for example.test into the
instance's data_dir before it starts, a message From example.test is relayed to dest.test,
whose MX (dnsmasq) is an aiosmtpd receiver, and dkimpy (python3-dkim, the public records handed
over through its `dnsfunc`) verifies what arrived. Mail from a domain without a key and local
Maildir deliveries arrive unsigned; a tampered body fails. Run with /usr/bin/python3.
"""
import smtplib
import uuid

import pytest

pytest.importorskip("aiosmtpd")
dkim = pytest.importorskip("dkim")

from dkim_check import dkimpy_verify_all, record_of  # noqa: E402
from dns_server import DnsServer, available as dns_available  # noqa: E402
from petrel_harness import PetrelInstance, wait_until  # noqa: E402
from smtp_receiver import Receiver, free_port_on  # noqa: E402

if not dns_available():
    pytest.skip("dnsmasq not installed", allow_module_level=True)

MX = "127.0.0.2"
SIGNED = "example.test"
KEYS = (("r1", "rsa"), ("e1", "ed25519"))


def records_from(out: str) -> dict[str, str]:
    return dict(record_of(l) for l in out.splitlines() if " IN TXT " in l)


def message(sender: str, marker: str) -> bytes:
    return (f"From: Someone <{sender}>\r\nTo: bob@dest.test\r\nSubject: dkim {marker}\r\n"
            f"Date: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{marker}@example.test>\r\n"
            f"\r\nhello {marker}\r\n.dot line\r\n\r\n").encode()


def send(inst, sender: str, rcpt: str, marker: str):
    with smtplib.SMTP("127.0.0.1", inst.port("mx"), local_hostname="client.test", timeout=10) as s:
        s.sendmail(sender, [rcpt], message(sender, marker))


@pytest.fixture
def signer(workdir):
    """A running petrel with keys for example.test, the DNS and the receiver; yields
    (instance, receiver, public records)."""
    port = free_port_on([MX])
    mx = [("dest.test", "mx1.dest.test", 10)]
    with DnsServer("test", mx=mx, a={"mx1.dest.test": [MX]}, ttl=60) as dns, Receiver(MX, port) as rcv:
        overrides = {"domains": {"local": ["local.test"], "relay": ["dest.test"]},
                     "delivery": {"mode": "mx", "paused": False, "first_retry_seconds": 1,
                                  "max_retry_seconds": 2, "idle_timeout_seconds": 1},
                     "dns": {"servers": [dns.address], "timeout_ms": 500, "attempts": 1},
                     "testing": {"outbound_port": port}}
        inst = PetrelInstance(workdir / "petrel-dkim", overrides=overrides, user=None)
        inst.write_config()
        records = {}
        for selector, typ in KEYS:
            records.update(records_from(inst.cli("dkim", "keygen", SIGNED, selector, "--type", typ).stdout))
        assert set(records) == {f"{s}._domainkey.{SIGNED}" for s, _ in KEYS}
        assert records_from(inst.cli("dkim", "show", SIGNED).stdout) == records
        inst.start()
        try:
            yield inst, rcv, records
        finally:
            inst.stop(check=True)


def received(rcv, marker: str) -> bytes:
    found = wait_until(lambda: [m for m in list(rcv.messages) if marker.encode() in m.data], 30,
                       interval=0.1, what="the delivered message")
    assert len(found) == 1
    return found[0].data


def test_outbound_mail_is_signed_and_dkimpy_verifies(signer):
    inst, rcv, records = signer
    marker = uuid.uuid4().hex
    send(inst, f"someone@{SIGNED}", "bob@dest.test", marker)
    data = received(rcv, marker)
    assert data.startswith(b"DKIM-Signature:"), data[:200]
    # Dual signing: one RSA, one Ed25519 signature, both valid.
    assert data.count(b"DKIM-Signature:") == 2
    assert b"a=rsa-sha256" in data and b"a=ed25519-sha256" in data
    assert dkimpy_verify_all(data, records) == [True, True]
    # The body changed in transit: both fail.
    tampered = data.replace(f"hello {marker}".encode(), f"hullo {marker}".encode())
    assert dkimpy_verify_all(tampered, records) == [False, False]
    assert "dkim signed d=example.test" in inst.output()


def test_domain_without_key_arrives_unsigned(signer):
    inst, rcv, records = signer
    marker = uuid.uuid4().hex
    send(inst, "someone@nokey.test", "bob@dest.test", marker)
    data = received(rcv, marker)
    assert b"dkim-signature" not in data.lower()


def test_local_delivery_is_not_signed(signer):
    inst, rcv, records = signer
    marker = uuid.uuid4().hex
    send(inst, f"someone@{SIGNED}", "lena@local.test", marker)
    root = inst.data_dir / "mail"
    found = wait_until(lambda: [p for p in root.rglob("new/*") if marker.encode() in p.read_bytes()],
                       20, what="a Maildir file")
    assert len(found) == 1
    assert b"dkim-signature" not in found[0].read_bytes().lower()
