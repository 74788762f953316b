"""ARC sealing of relayed mail and DKIM/ARC key reload on SIGHUP (issue 5; docs/arc.md
"Sealing forwarded mail", docs/dkim.md), end to end on loopback.

A dnsmasq (tests/lib/dns_server.py) serves the SPF and DKIM records of the sending domain
good.test, the key of an earlier ARC forwarder fwd.test, and the MX of dest.test (an aiosmtpd
receiver on 127.0.0.2). Messages signed by dkimpy (Debian python3-dkim, an independent
implementation) are sent to petrel's mx listener for dest.test, which petrel relays onward;
dkimpy's `arc_verify` then checks the chain that arrived, with the public half of petrel's
sealing key (`petrel dkim keygen seal.test arc1`) handed over through its dnsfunc.
Run with /usr/bin/python3.
"""
import base64
import os
import re
import signal
import smtplib
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

pytest.importorskip("aiosmtpd")
dkim = pytest.importorskip("dkim")

from dkim_check import dkimpy_verify_all, dnsfunc_for, record_of  # noqa: E402
from dns_server import DnsServer, available as dns_available  # noqa: E402
from petrel_harness import PetrelInstance, wait_until  # noqa: E402
from smtp_receiver import Receiver, free_port_on  # noqa: E402

if not dns_available():
    pytest.skip("dnsmasq not installed", allow_module_level=True)

MX = "127.0.0.2"
SEL = "s1"
AUTHSERV_ID = "mx.example.test"  # the harness's hostname


def make_key() -> tuple[bytes, str]:
    """RSA-2048 by openssl: (private PEM, base64 SubjectPublicKeyInfo for p=)."""
    with tempfile.TemporaryDirectory(prefix="petrel-arc-key-") as d:
        key = Path(d) / "k.pem"
        subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
        der = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
                             check=True, capture_output=True).stdout
        return key.read_bytes(), base64.b64encode(der).decode()


def records_from(out: str) -> dict[str, str]:
    return dict(record_of(l) for l in out.splitlines() if " IN TXT " in l)


@pytest.fixture(scope="module")
def sender_key():
    return make_key()


@pytest.fixture(scope="module")
def env(sender_key):
    """(DNS server, receiver, public key records for dkimpy's dnsfunc)."""
    _, pub = sender_key
    rec = f"v=DKIM1; k=rsa; p={pub}"
    txt = {"good.test": ["v=spf1 ip4:127.0.0.1 -all"],
           f"{SEL}._domainkey.good.test": [[rec[i:i + 250] for i in range(0, len(rec), 250)]],
           f"{SEL}._domainkey.fwd.test": [[rec[i:i + 250] for i in range(0, len(rec), 250)]]}
    port = free_port_on([MX])
    with DnsServer("test", mx=[("dest.test", "mx1.dest.test", 10)], a={"mx1.dest.test": [MX]},
                   txt=txt, ttl=60) as dns, Receiver(MX, port) as rcv:
        yield dns, rcv, port, {f"{SEL}._domainkey.good.test": rec, f"{SEL}._domainkey.fwd.test": rec}


def make_instance(workdir, env, name: str, seal: bool) -> PetrelInstance:
    dns, rcv, port, _ = env
    authentication = {"arc_seal": True, "arc_seal_domain": "seal.test", "arc_seal_selector": "arc1"} \
        if seal else {}
    overrides = {"domains": {"local": ["local.test"], "relay": ["dest.test"]},
                 "delivery": {"mode": "mx", "paused": False, "first_retry_seconds": 1,
                              "max_retry_seconds": 2, "idle_timeout_seconds": 1},
                 "dns": {"servers": [dns.address], "timeout_ms": 1000, "attempts": 2},
                 "testing": {"outbound_port": port}}
    if authentication:
        overrides["authentication"] = authentication
    inst = PetrelInstance(workdir / name, overrides=overrides, user=None)
    inst.write_config()
    return inst


@pytest.fixture
def sealer(workdir, env):
    """A running petrel that seals with seal.test/arc1; yields (instance, all public records)."""
    inst = make_instance(workdir, env, "petrel-arc", seal=True)
    records = dict(env[3])
    records.update(records_from(inst.cli("dkim", "keygen", "seal.test", "arc1").stdout))
    inst.start()
    try:
        yield inst, records
    finally:
        inst.stop(check=True)


def message(marker: str, sender: str = "alice@good.test") -> bytes:
    return (f"From: Alice <{sender}>\r\nTo: bob@dest.test\r\nSubject: arc {marker}\r\n"
            f"Date: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{marker}@good.test>\r\n"
            f"\r\nhello {marker}\r\n").encode()


def dkim_signed(msg: bytes, pem: bytes) -> bytes:
    return dkim.sign(msg, SEL.encode(), b"good.test", pem,
                     include_headers=[b"from", b"to", b"subject", b"date", b"message-id"]) + msg


def send(inst, data: bytes, sender: str = "alice@good.test"):
    with smtplib.SMTP("127.0.0.1", inst.port("mx"), local_hostname="mail.good.test", timeout=10) as s:
        s.sendmail(sender, ["bob@dest.test"], data)


def received(rcv, marker: str) -> bytes:
    found = wait_until(lambda: [m for m in list(rcv.messages) if marker.encode() in m.data], 30,
                       interval=0.1, what="the relayed message")
    assert len(found) == 1
    return found[0].data


def arc_verify(data: bytes, records) -> tuple[str, str]:
    cv, _results, reason = dkim.arc_verify(data, dnsfunc=dnsfunc_for(records))
    return cv.decode() if isinstance(cv, bytes) else str(cv), str(reason)


def aar_of(data: bytes, i: int) -> bytes:
    """The ARC-Authentication-Results payload of instance i, unfolded."""
    head = data.split(b"\r\n\r\n")[0].replace(b"\r\n\t", b" ").replace(b"\r\n ", b"  ")
    m = re.search(rb"(?im)^ARC-Authentication-Results: i=" + str(i).encode() + rb"; ([^\r\n]*)", head)
    assert m, head[:600]
    return m.group(1)


def instances(data: bytes, name: bytes) -> list[int]:
    """The i= of every `name` field (tags in any order, folded or not)."""
    head = data.split(b"\r\n\r\n")[0].replace(b"\r\n\t", b" ").replace(b"\r\n ", b"  ")
    return [int(m) for m in re.findall(rb"(?im)^" + name + rb":[^\r\n]*?(?<![a-z])i=(\d+)", head)]


def test_relayed_mail_is_sealed_and_dkimpy_verifies(sealer, env, sender_key):
    inst, records = sealer
    rcv = env[1]
    marker = uuid.uuid4().hex
    send(inst, dkim_signed(message(marker), sender_key[0]))
    data = received(rcv, marker)
    assert data.startswith(b"ARC-Seal:"), data[:300]
    cv, reason = arc_verify(data, records)
    assert cv == "pass", reason
    assert instances(data, b"ARC-Authentication-Results") == [1]
    # The AAR is petrel's Authentication-Results, as recorded on arrival.
    aar = aar_of(data, 1)
    assert aar.startswith(AUTHSERV_ID.encode() + b";")
    assert b"dkim=pass" in aar and b"spf=pass" in aar and b"arc=none" in aar
    assert b"cv=none" in data.split(b"ARC-Message-Signature:")[0]
    # The sender's DKIM signature still verifies (petrel changed nothing it signed).
    assert dkimpy_verify_all(data, records) == [True]
    # Tampering with the body after the seal breaks the chain.
    tampered = data.replace(f"hello {marker}".encode(), f"hullo {marker}".encode())
    assert arc_verify(tampered, records)[0] == "fail"
    assert "arc sealed i=1" in inst.output()


def test_prior_arc_set_is_extended_to_i2(sealer, env, sender_key):
    inst, records = sealer
    rcv = env[1]
    marker = uuid.uuid4().hex
    # An earlier hop (fwd.test) checked the message and sealed it (dkimpy arc_sign needs its
    # own Authentication-Results field to build the AAR from).
    msg = b"Authentication-Results: fwd.test; dkim=pass header.d=good.test\r\n" + \
        dkim_signed(message(marker), sender_key[0])
    arc = dkim.arc_sign(msg, SEL.encode(), b"fwd.test", sender_key[0], b"fwd.test",
                        include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    prior = b"".join(arc) + msg
    assert arc_verify(prior, records)[0] == "pass"
    send(inst, prior)
    data = received(rcv, marker)
    assert sorted(instances(data, b"ARC-Authentication-Results")) == [1, 2]
    assert sorted(instances(data, b"ARC-Seal")) == [1, 2]
    cv, reason = arc_verify(data, records)
    assert cv == "pass", reason
    aar2 = aar_of(data, 2)
    assert aar2.startswith(AUTHSERV_ID.encode() + b";") and b"arc=pass" in aar2
    assert "arc sealed i=2" in inst.output()


def test_sealing_off_adds_no_arc_headers(workdir, env, sender_key):
    inst = make_instance(workdir, env, "petrel-noseal", seal=False)
    inst.cli("dkim", "keygen", "seal.test", "arc1")
    inst.start()
    try:
        marker = uuid.uuid4().hex
        send(inst, dkim_signed(message(marker), sender_key[0]))
        data = received(env[1], marker)
        assert b"arc-" not in data.lower().split(b"\r\n\r\n")[0]
    finally:
        inst.stop(check=True)


def test_forged_results_are_not_what_is_sealed(sealer, env):
    """A forged Authentication-Results naming petrel's authserv-id is removed on mx (RFC 8601
    §5), so what petrel seals is its own record: the forged arc=pass is not what is sealed."""
    inst, records = sealer
    marker = uuid.uuid4().hex
    forged = (f"Authentication-Results: {AUTHSERV_ID}; arc=pass; dkim=pass header.d=good.test\r\n"
              ).encode() + message(marker, "alice@nosig.test")
    send(inst, forged, "alice@nosig.test")
    data = received(env[1], marker)
    head = data.split(b"\r\n\r\n")[0]
    assert len(re.findall(rb"(?im)^Authentication-Results: " + AUTHSERV_ID.encode().replace(b".", rb"\."),
                          head)) == 1
    cv, reason = arc_verify(data, records)
    assert cv == "pass", reason
    aar = aar_of(data, 1)
    assert b"arc=none" in aar and b"dkim=none" in aar


def test_keys_reload_on_sighup(workdir, env):
    """keygen while running + SIGHUP: the next message from the new domain is DKIM-signed; a bad
    key file makes the reload keep the old keys and the error names the file."""
    rcv = env[1]
    inst = make_instance(workdir, env, "petrel-reload", seal=False)
    inst.start()
    try:
        m1 = uuid.uuid4().hex
        send(inst, message(m1, "carol@late.test"), "carol@late.test")
        assert b"dkim-signature" not in received(rcv, m1).lower()
        records = records_from(inst.cli("dkim", "keygen", "late.test", "k1").stdout)
        os.kill(inst.pid, signal.SIGHUP)
        wait_until(lambda: "SIGHUP: dkim: signing for late.test" in inst.output(), 10,
                   what="the reload log line")
        m2 = uuid.uuid4().hex
        send(inst, message(m2, "carol@late.test"), "carol@late.test")
        data = received(rcv, m2)
        assert data.startswith(b"DKIM-Signature:")
        assert dkimpy_verify_all(data, records) == [True]
        # A broken key file: the reload is refused, the old keys stay in use.
        bad = inst.data_dir / "dkim" / "late.test" / "k2.rsa.pem"
        bad.write_text("not a key\n")
        os.kill(inst.pid, signal.SIGHUP)
        wait_until(lambda: "keeping the old ones" in inst.output(), 10, what="the refused reload")
        assert f"not a PEM private key: {bad}" in inst.output()
        m3 = uuid.uuid4().hex
        send(inst, message(m3, "carol@late.test"), "carol@late.test")
        assert dkimpy_verify_all(received(rcv, m3), records) == [True]
        bad.unlink()
    finally:
        inst.stop(check=True)


def test_check_arc_command(workdir, env, sender_key):
    """`petrel check arc FILE --dns H:P [--json]` over the loopback DNS: a chain dkimpy sealed
    passes (exit 0), the same with a changed body fails (exit 1), a message without ARC is none."""
    import json
    dns = env[0]
    inst = make_instance(workdir, env, "petrel-check-arc", seal=False)
    msg = b"Authentication-Results: fwd.test; dkim=pass header.d=good.test\r\n" + \
        dkim_signed(message("check"), sender_key[0])
    sealed = b"".join(dkim.arc_sign(msg, SEL.encode(), b"fwd.test", sender_key[0], b"fwd.test",
                                    include_headers=[b"from", b"to", b"subject"])) + msg
    cases = {"sealed.eml": (sealed, 0, "pass"),
             "tampered.eml": (sealed.replace(b"hello check", b"hullo check"), 1, "fail"),
             "plain.eml": (message("plain"), 1, "none")}
    for name, (data, rc, result) in cases.items():
        path = workdir / name
        path.write_bytes(data)
        cp = inst.cli("check", "arc", str(path), "--dns", dns.address, check=False)
        assert cp.returncode == rc, cp.stdout + cp.stderr
        assert cp.stdout.startswith(f"arc={result} "), cp.stdout
        j = json.loads(inst.cli("check", "arc", str(path), "--dns", dns.address, "--json",
                                check=False).stdout)
        assert j["result"] == result
        if result == "pass":
            assert j["instances"] == 1 and j["ams_domains"] == ["fwd.test"]
