"""Inbound authentication on the mx listener (issue 5, docs/authentication-results.md): SPF,
DKIM, DMARC and the Authentication-Results header, end to end.

A real dnsmasq on loopback (tests/lib/dns_server.py) serves the SPF, DKIM key and DMARC records
of a few sender domains under auth.test; messages are signed with dkimpy (Debian python3-dkim,
an independent DKIM implementation) and sent over SMTP from 127.0.0.1 to a running petrel. The
test reads the message back from the spool and parses the Authentication-Results field.

Run with Debian's Python (dkimpy is a Debian package):
    PETREL_BIN=build/petrel /usr/bin/python3 -m pytest -q tests/integration/test_inbound_auth.py
"""
from __future__ import annotations

import base64
import re
import smtplib
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

import dns_server
import petrel_spool
from conftest import make_workdir, remove_workdir
from petrel_harness import PASSWORD, USER, PetrelInstance, client_tls_context

dkim = pytest.importorskip("dkim")

pytestmark = pytest.mark.skipif(not dns_server.available(), reason="dnsmasq not installed")

Z = "auth.test"
AUTHSERV_ID = "mx.example.test"  # the harness's hostname
SELECTOR = "s1"


def make_key() -> tuple[bytes, str]:
    """An RSA-2048 key pair by openssl: (private PEM, public key base64 for p=)."""
    d = tempfile.mkdtemp(prefix="petrel-auth-key-")
    key = Path(d) / "k.pem"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    pem = key.read_bytes()
    key.unlink()
    Path(d).rmdir()
    return pem, base64.b64encode(der).decode()


def chunks(text: str, n: int = 250) -> list[str]:
    return [text[i:i + n] for i in range(0, len(text), n)]


@pytest.fixture(scope="module")
def key():
    return make_key()


def records(pub: str) -> dict:
    dkim_txt = [chunks(f"v=DKIM1; k=rsa; p={pub}")]
    return {
        # Passes everything from 127.0.0.1: SPF, DKIM, DMARC p=reject.
        f"good.{Z}": ["v=spf1 ip4:127.0.0.1 -all"],
        f"{SELECTOR}._domainkey.good.{Z}": dkim_txt,
        # An ARC forwarder (RFC 8617) that sealed what it received.
        f"{SELECTOR}._domainkey.fwd.{Z}": dkim_txt,
        f"_dmarc.good.{Z}": ["v=DMARC1; p=reject"],
        # SPF fails from 127.0.0.1, no DMARC record: accepted with spf=fail.
        f"spffail.{Z}": ["v=spf1 ip4:192.0.2.1 -all"],
        # SPF fails, no signature, DMARC p=reject: refused.
        f"strict.{Z}": ["v=spf1 ip4:192.0.2.1 -all"],
        f"_dmarc.strict.{Z}": ["v=DMARC1; p=reject"],
        # SPF fails, no signature, DMARC p=quarantine: tagged when configured.
        f"quar.{Z}": ["v=spf1 ip4:192.0.2.1 -all"],
        f"_dmarc.quar.{Z}": ["v=DMARC1; p=quarantine"],
    }


@pytest.fixture(scope="module")
def dns(key):
    with dns_server.DnsServer(Z, txt=records(key[1])) as server:
        yield server


def start_instance(dns, name: str, authentication: dict | None = None) -> tuple[PetrelInstance, Path]:
    wd = make_workdir(name)
    overrides = {"dns": {"servers": [dns.address], "timeout_ms": 1000, "attempts": 2}}
    if authentication:
        overrides["authentication"] = authentication
    return PetrelInstance(wd, overrides=overrides).start(), wd


@pytest.fixture(scope="module")
def petrel_auth(dns):
    inst, wd = start_instance(dns, "inbound-auth")
    yield inst
    inst.stop(check=True)
    remove_workdir(wd)


@pytest.fixture(scope="module")
def petrel_tagging(dns):
    inst, wd = start_instance(dns, "inbound-tag", {"dmarc_quarantine": "tag", "dmarc_reject": "tag"})
    yield inst
    inst.stop(check=True)
    remove_workdir(wd)


def message(sender: str, marker: str, body: str = "Hello.\r\n", extra: str = "") -> bytes:
    return (f"{extra}From: Sender <{sender}>\r\nTo: bob@example.test\r\nSubject: auth test\r\n"
            f"Date: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{marker}@test>\r\n\r\n"
            f"{body}").encode()


def sign(msg: bytes, domain: str, pem: bytes) -> bytes:
    sig = dkim.sign(msg, SELECTOR.encode(), domain.encode(), pem,
                    include_headers=[b"from", b"to", b"subject", b"date", b"message-id"])
    return sig + msg


def send_mx(inst: PetrelInstance, sender: str, msg: bytes, rcpt: str = "bob@example.test"):
    """Sends on the mx listener; returns the (code, text) of the end of DATA."""
    with smtplib.SMTP("127.0.0.1", inst.port("mx"), "client.auth.test", timeout=30) as s:
        s.ehlo("client.auth.test")
        s.mail(sender)
        code, _ = s.rcpt(rcpt)
        assert code == 250
        return s.data(msg)


def submit(inst: PetrelInstance, msg: bytes, rcpt: str = "bob@example.test") -> None:
    """Sends as the AUTH user on the submission listener (STARTTLS, then AUTH)."""
    with smtplib.SMTP("127.0.0.1", inst.port("submission"), "client.auth.test", timeout=30) as s:
        s.ehlo()
        s.starttls(context=client_tls_context())
        s.ehlo()
        s.login(USER, PASSWORD)
        s.sendmail(USER, [rcpt], msg)


def stored(inst: PetrelInstance, marker: str) -> bytes:
    # The message's own bytes, parsed out of its spool record (a segment holds many messages).
    return inst.wait_for_stored_message(marker.encode(), timeout=10)


def header_fields(msg: bytes, name: str) -> list[str]:
    """Every `name` field of the header section, unfolded, without the name."""
    head = msg.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    unfolded = re.sub(r"\r\n[ \t]", " ", head)
    out = []
    for line in unfolded.split("\r\n"):
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            out.append(v.strip())
    return out


def parse_ar(value: str) -> tuple[str, list[dict]]:
    """RFC 8601 §2.2 field value → (authserv-id, [{"method", "result", props..., "reason"}])."""
    parts = re.findall(r'(?:[^;"]|"(?:[^"\\]|\\.)*")+', value)
    ident = parts[0].strip()
    results = []
    for p in parts[1:]:
        p = re.sub(r"\((?:[^()\\]|\\.)*\)", " ", p).strip()  # comments
        words = re.findall(r'[\w.-]+=(?:"(?:[^"\\]|\\.)*"|\S+)', p)
        entry = {}
        for i, w in enumerate(words):
            k, _, v = w.partition("=")
            v = v[1:-1] if v.startswith('"') else v
            if i == 0:
                entry["method"], entry["result"] = k, v
            else:
                entry[k] = v
        results.append(entry)
    return ident, results


def only_ar(msg: bytes) -> list[dict]:
    fields = header_fields(msg, "Authentication-Results")
    ours = [f for f in fields if f.split(";")[0].strip() == AUTHSERV_ID]
    assert len(ours) == 1, fields
    ident, results = parse_ar(ours[0])
    assert ident == AUTHSERV_ID
    return results


def method(results: list[dict], name: str) -> list[dict]:
    return [r for r in results if r.get("method") == name]


def test_signed_message_from_authorized_ip_passes_spf_dkim_dmarc(petrel_auth, key):
    marker = uuid.uuid4().hex
    sender = f"alice@good.{Z}"
    code, _ = send_mx(petrel_auth, sender, sign(message(sender, marker), f"good.{Z}", key[0]))
    assert code == 250
    msg = stored(petrel_auth, marker)
    results = only_ar(msg)
    [spf] = method(results, "spf")
    assert spf["result"] == "pass"
    assert spf["smtp.mailfrom"] == sender
    [d] = method(results, "dkim")
    assert d["result"] == "pass"
    assert d["header.d"] == f"good.{Z}"
    assert d["header.s"] == SELECTOR
    assert len(d["header.b"]) == 8
    [dm] = method(results, "dmarc")
    assert dm["result"] == "pass"
    assert dm["header.from"] == f"good.{Z}"
    assert method(results, "arc")[0]["result"] == "none"
    # The field sits right under Received, above the message's own fields.
    lines = msg.split(b"\r\n")
    first_fields = [l.split(b":")[0] for l in lines[:12] if l and l[:1] not in (b" ", b"\t")]
    assert first_fields[:2] == [b"Received", b"Authentication-Results"]


def test_tampered_body_is_dkim_fail(petrel_auth, key):
    marker = uuid.uuid4().hex
    sender = f"alice@good.{Z}"
    signed = sign(message(sender, marker, "Pay 10 EUR.\r\n"), f"good.{Z}", key[0])
    code, _ = send_mx(petrel_auth, sender, signed.replace(b"Pay 10 EUR.", b"Pay 99 EUR."))
    assert code == 250  # SPF passes and is aligned: DMARC passes, nothing to refuse
    [d] = method(only_ar(stored(petrel_auth, marker)), "dkim")
    assert d["result"] == "fail"
    assert "body hash" in d.get("reason", "")


def test_spf_minus_all_from_another_ip_is_spf_fail(petrel_auth):
    marker = uuid.uuid4().hex
    sender = f"carol@spffail.{Z}"
    code, _ = send_mx(petrel_auth, sender, message(sender, marker))
    assert code == 250  # no DMARC record: nothing asks for a refusal
    results = only_ar(stored(petrel_auth, marker))
    [spf] = method(results, "spf")
    assert spf["result"] == "fail"
    assert spf["smtp.mailfrom"] == sender
    assert method(results, "dkim")[0]["result"] == "none"


def test_null_sender_checks_helo(petrel_auth):
    marker = uuid.uuid4().hex
    code, _ = send_mx(petrel_auth, "", message(f"mailer-daemon@spffail.{Z}", marker))
    assert code == 250
    [spf] = method(only_ar(stored(petrel_auth, marker)), "spf")
    assert spf["smtp.mailfrom"] == "postmaster@client.auth.test"
    assert spf["smtp.helo"] == "client.auth.test"
    assert spf["result"] in ("none", "temperror")  # client.auth.test publishes nothing


def test_forged_authentication_results_with_our_id_is_removed(petrel_auth, key):
    marker = uuid.uuid4().hex
    sender = f"carol@spffail.{Z}"
    forged = (f"Authentication-Results: {AUTHSERV_ID};\r\n\tspf=pass smtp.mailfrom={sender};\r\n"
              f"\tdkim=pass header.d=bank.example\r\n"
              f"Authentication-Results: other.example; spf=pass smtp.mailfrom={sender}\r\n")
    code, _ = send_mx(petrel_auth, sender, message(sender, marker, extra=forged))
    assert code == 250
    msg = stored(petrel_auth, marker)
    results = only_ar(msg)  # exactly one field with our id: ours
    assert method(results, "spf")[0]["result"] == "fail"
    assert b"bank.example" not in msg
    others = header_fields(msg, "Authentication-Results")
    assert any(f.startswith("other.example;") for f in others)  # not ours: kept


def test_submission_mail_gets_no_header(petrel_auth):
    marker = uuid.uuid4().hex
    submit(petrel_auth, message(USER, marker))
    assert header_fields(stored(petrel_auth, marker), "Authentication-Results") == []


FORGED_AR = (f"Authentication-Results: {AUTHSERV_ID.upper()}; dkim=pass header.d=bank.example\r\n"
             f"Authentication-Results: other.example; spf=pass smtp.mailfrom=x@other.example\r\n")


def test_submission_cannot_forge_our_authentication_results(petrel_auth):
    """RFC 8601 §5 on every path: an authenticated user's message is not checked, but a field
    in petrel's name (any case) that petrel did not write is removed; others stay."""
    marker = uuid.uuid4().hex
    submit(petrel_auth, message(USER, marker, extra=FORGED_AR))
    msg = stored(petrel_auth, marker)
    assert b"bank.example" not in msg
    assert [f.split(";")[0] for f in header_fields(msg, "Authentication-Results")] == ["other.example"]
    assert "removed 1 Authentication-Results field(s) naming this server" in petrel_auth.output()


def test_forged_field_removed_when_checks_are_off(dns):
    """mx with [authentication] enabled = false: no checks, no header of ours, and still no
    forged one."""
    inst, wd = start_instance(dns, "inbound-off", {"enabled": False})
    try:
        marker = uuid.uuid4().hex
        sender = f"carol@spffail.{Z}"
        code, _ = send_mx(inst, sender, message(sender, marker, extra=FORGED_AR))
        assert code == 250
        msg = stored(inst, marker)
        assert b"bank.example" not in msg
        assert [f.split(";")[0] for f in header_fields(msg, "Authentication-Results")] == ["other.example"]
    finally:
        inst.stop(check=True)
        remove_workdir(wd)


def spool_count(inst: PetrelInstance) -> int:
    """Records in the spool's segment log, removed ones included (a refusal must add none)."""
    return len(petrel_spool.all_records(inst.spool_dir()))


def test_dmarc_reject_failure_is_550_and_not_queued(petrel_auth):
    marker = uuid.uuid4().hex
    sender = f"mallory@strict.{Z}"
    before = spool_count(petrel_auth)
    code, text = send_mx(petrel_auth, sender, message(sender, marker))
    assert code == 550
    assert text.decode().startswith("5.7.1")
    assert spool_count(petrel_auth) == before
    assert petrel_auth.files_containing(marker.encode()) == []


def test_dmarc_quarantine_is_tagged_when_configured(petrel_tagging, petrel_auth):
    sender = f"mallory@quar.{Z}"
    for inst, tagged in ((petrel_tagging, True), (petrel_auth, False)):
        marker = uuid.uuid4().hex
        code, _ = send_mx(inst, sender, message(sender, marker))
        assert code == 250
        msg = stored(inst, marker)
        [dm] = method(only_ar(msg), "dmarc")
        assert dm["result"] == "fail"
        assert header_fields(msg, "X-Petrel-Quarantine") == (["dmarc"] if tagged else [])


def test_dmarc_reject_as_tag_accepts_and_tags(petrel_tagging):
    marker = uuid.uuid4().hex
    sender = f"mallory@strict.{Z}"
    code, _ = send_mx(petrel_tagging, sender, message(sender, marker))
    assert code == 250
    msg = stored(petrel_tagging, marker)
    [dm] = method(only_ar(msg), "dmarc")
    assert dm["result"] == "fail"
    assert header_fields(msg, "X-Petrel-Quarantine") == ["dmarc"]


def test_arc_sealed_message_is_arc_pass(petrel_auth, key):
    marker = uuid.uuid4().hex
    sender = f"carol@spffail.{Z}"
    received = (f"Authentication-Results: fwd.{Z}; spf=pass smtp.mailfrom={sender}\r\n"
                .encode() + message(sender, marker))
    seal = dkim.arc_sign(received, SELECTOR.encode(), f"fwd.{Z}".encode(), key[0],
                         f"fwd.{Z}".encode())
    assert seal, "dkimpy produced no ARC set"
    code, _ = send_mx(petrel_auth, sender, b"".join(seal) + received)
    assert code == 250
    [arc] = method(only_ar(stored(petrel_auth, marker)), "arc")
    assert arc["result"] == "pass"


def test_arc_tampered_after_seal_is_arc_fail(petrel_auth, key):
    marker = uuid.uuid4().hex
    sender = f"carol@spffail.{Z}"
    received = (f"Authentication-Results: fwd.{Z}; spf=pass smtp.mailfrom={sender}\r\n"
                .encode() + message(sender, marker, "Original.\r\n"))
    seal = dkim.arc_sign(received, SELECTOR.encode(), f"fwd.{Z}".encode(), key[0],
                         f"fwd.{Z}".encode())
    tampered = (b"".join(seal) + received).replace(b"Original.", b"Changed!.")
    code, _ = send_mx(petrel_auth, sender, tampered)
    assert code == 250
    [arc] = method(only_ar(stored(petrel_auth, marker)), "arc")
    assert arc["result"] == "fail"


def test_every_log_line_about_the_message_has_its_qid(petrel_auth):
    marker = uuid.uuid4().hex
    sender = f"carol@spffail.{Z}"
    code, text = send_mx(petrel_auth, sender, message(sender, marker))
    assert code == 250
    qid = text.decode().rsplit(" ", 1)[-1]
    log = petrel_auth.output()
    for what in ("message complete", "auth spf=", "queued from="):
        lines = [l for l in log.splitlines() if f"qid={qid} {what}" in l]
        assert len(lines) == 1, (what, qid, log[-3000:])
