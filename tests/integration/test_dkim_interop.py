"""DKIM cross-verification against independent implementations (Debian packages).

petrel signs → dkimpy (python3-dkim, keys handed over through its `dnsfunc`) and Perl Mail::DKIM
(libmail-dkim-perl, Net::DNS pointed at a real dnsmasq serving the TXT records; RSA only, since
Debian 12's Mail::DKIM has no Ed25519) verify;
dkimpy signs → `petrel dkim verify` verifies, through that dnsmasq (`--dns`). (OpenDKIM's
`opendkim-testmsg` 2.11 answers "dkim_chunk(): Syntax error" to every message here, in sign and
verify mode alike, so it is not used.) RSA-SHA256 and Ed25519-SHA256, relaxed and simple. Keys come
from `petrel dkim keygen` in a temp data_dir; records from its output and `petrel dkim show`.
Tampered messages must fail in petrel and in dkimpy alike. Network: loopback only.
"""
from __future__ import annotations

import base64
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
from petrel_harness import petrel_bin  # noqa: E402
import dns_server  # noqa: E402

dkim = pytest.importorskip("dkim")
from dkim_check import dkimpy_verify_all, record_of  # noqa: E402

DOMAIN = "example.test"
NOW = 1790000000

MESSAGES = {
    "plain": b"From: Alice <alice@example.test>\r\nTo: bob@example.net\r\nSubject: hello\r\n"
             b"Date: Wed, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <a1@example.test>\r\n\r\n"
             b"Hello Bob.\r\n",
    "folded-spaces": b"From: \"Alice A.\" <alice@example.test>\r\nTo: bob@example.net,\r\n"
                     b"\tcarol@example.net\r\nSubject:  Lunch   \r\n  tomorrow?  \r\n"
                     b"X-Other: not signed\r\nMIME-Version: 1.0\r\n"
                     b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
                     b"Line with  two  spaces   \r\n\ttabbed line\r\n\r\n\r\n\r\n",
    "empty-body": b"From: alice@example.test\r\nSubject: nothing\r\n\r\n",
    "long": b"From: alice@example.test\r\nTo: bob@example.net\r\nSubject: long\r\n\r\n"
            + b"".join(b"line %d " % i + b"x" * 70 + b"\r\n" for i in range(300)),
}


def run(args, stdin=b"", check=True):
    p = subprocess.run([petrel_bin(), *args], input=stdin, capture_output=True, timeout=60)
    if check and p.returncode != 0:
        raise AssertionError(f"petrel {' '.join(args)} failed ({p.returncode}): {p.stderr.decode()}")
    return p


@pytest.fixture(scope="module")
def deployment():
    tmp = tempfile.mkdtemp(prefix="petrel-dkim-")
    os.chmod(tmp, 0o755)
    cfg = Path(tmp) / "petrel.toml"
    cfg.write_text(f'data_dir = "{tmp}/data"\n')
    records = {}
    for selector, typ in (("r1", "rsa"), ("e1", "ed25519")):
        out = run(["dkim", "keygen", DOMAIN, selector, "--type", typ, "--config", str(cfg)]).stdout.decode()
        line = next(l for l in out.splitlines() if " IN TXT " in l)
        name, rec = record_of(line)
        assert name == f"{selector}._domainkey.{DOMAIN}"
        assert all(len(s) <= 255 for s in re.findall(r'"([^"]*)"', line))
        records[name] = rec
        key = Path(tmp) / "data" / "dkim" / DOMAIN / f"{selector}.{typ}.pem"
        assert key.exists() and (key.stat().st_mode & 0o777) == 0o600
    # `show` prints the same records again.
    shown = dict(record_of(l) for l in run(["dkim", "show", DOMAIN, "--config", str(cfg)]).stdout.decode().splitlines())
    assert shown == records
    with dns_server.DnsServer(DOMAIN, txt={n: [[r[i:i + 255] for i in range(0, len(r), 255)]]
                                           for n, r in records.items()}) as dns:
        yield {"dir": Path(tmp), "config": str(cfg), "records": records, "dns": dns}


def petrel_sign(dep, msg, selector, canon):
    return run(["dkim", "sign", "--config", dep["config"], "--domain", DOMAIN, "--selector", selector,
                "--canonicalization", canon, "--now", str(NOW)], msg).stdout


MAIL_DKIM_SCRIPT = r"""
use strict; use warnings;
use Mail::DKIM::Verifier; use Net::DNS::Resolver; use Mail::DKIM::DNS;
my $port = shift;
Mail::DKIM::DNS::resolver(Net::DNS::Resolver->new(nameservers => ['127.0.0.1'], port => $port,
                                                  recurse => 1, tcp_timeout => 5, udp_timeout => 5));
my $v = Mail::DKIM::Verifier->new();
binmode STDIN; local $/; my $msg = <STDIN>;
$v->PRINT($msg); $v->CLOSE();
foreach my $s ($v->signatures) { print $s->result, "\n"; }
"""


def mail_dkim_verify(signed: bytes, dns) -> list[str]:
    p = subprocess.run(["perl", "-e", MAIL_DKIM_SCRIPT, str(dns.port)], input=signed,
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode().split()


@pytest.mark.parametrize("canon", ["relaxed/relaxed", "simple/simple", "relaxed/simple", "simple/relaxed"])
@pytest.mark.parametrize("selector", ["r1", "e1"])
@pytest.mark.parametrize("name", sorted(MESSAGES))
def test_petrel_signs_dkimpy_and_mail_dkim_verify(deployment, name, selector, canon):
    signed = petrel_sign(deployment, MESSAGES[name], selector, canon)
    assert signed.startswith(b"DKIM-Signature:")
    assert dkimpy_verify_all(signed, deployment["records"]) == [True]
    # Debian 12's Mail::DKIM (1.20230212) has no Ed25519 verifier: it checks the RSA ones.
    expected = ["pass"] if selector == "r1" else ["invalid"]
    assert mail_dkim_verify(signed, deployment["dns"]) == expected


def test_dual_signature_from_domain_default(deployment):
    """No --domain: the From domain's keys, both of them (what delivery calls)."""
    signed = run(["dkim", "sign", "--config", deployment["config"]], MESSAGES["plain"]).stdout
    assert signed.count(b"DKIM-Signature:") == 2
    assert dkimpy_verify_all(signed, deployment["records"]) == [True, True]
    assert sorted(mail_dkim_verify(signed, deployment["dns"])) == ["invalid", "pass"]  # no Ed25519 there
    p = run(["dkim", "verify", "--dns", deployment["dns"].address], signed)
    assert p.stdout.decode().count("dkim=pass") == 2


def test_tampering_fails_everywhere(deployment):
    signed = petrel_sign(deployment, MESSAGES["plain"], "r1", "relaxed/relaxed")
    for bad in (signed.replace(b"Hello Bob.", b"Hello Eve."),
                signed.replace(b"Subject: hello", b"Subject: HELLO there"),
                signed.replace(b"To: bob", b"From: mallory@evil.test\r\nTo: bob")):
        assert dkimpy_verify_all(bad, deployment["records"]) == [False]
        p = run(["dkim", "verify", "--dns", deployment["dns"].address], bad, check=False)
        assert p.returncode == 1 and "dkim=fail" in p.stdout.decode(), p.stdout


def ed25519_seed(pem_path: Path) -> bytes:
    der = base64.b64decode("".join(l for l in pem_path.read_text().splitlines() if "-----" not in l))
    return base64.b64encode(der[-32:])  # PKCS#8 Ed25519: the 32-byte seed comes last


@pytest.mark.parametrize("canon", [(b"relaxed", b"relaxed"), (b"simple", b"simple"), (b"relaxed", b"simple")])
@pytest.mark.parametrize("selector", ["r1", "e1"])
def test_dkimpy_signs_petrel_verifies_over_dns(deployment, selector, canon):
    keydir = deployment["dir"] / "data" / "dkim" / DOMAIN
    if selector == "r1":
        key, alg = (keydir / "r1.rsa.pem").read_bytes(), b"rsa-sha256"
    else:
        key, alg = ed25519_seed(keydir / "e1.ed25519.pem"), b"ed25519-sha256"
    for name, msg in sorted(MESSAGES.items()):
        sig = dkim.sign(msg, selector.encode(), DOMAIN.encode(), key, canonicalize=canon,
                        signature_algorithm=alg, include_headers=[b"from", b"to", b"subject"])
        signed = sig + msg
        p = run(["dkim", "verify", "--dns", deployment["dns"].address], signed, check=False)
        assert p.returncode == 0 and p.stdout.decode().startswith("dkim=pass"), (name, p.stdout, p.stderr)


def test_keygen_refuses_weak_and_existing(deployment):
    p = run(["dkim", "keygen", DOMAIN, "weak", "--bits", "512", "--config", deployment["config"]], check=False)
    assert p.returncode == 1 and b"1024" in p.stderr
    p = run(["dkim", "keygen", DOMAIN, "r1", "--config", deployment["config"]], check=False)
    assert p.returncode == 1 and b"exists" in p.stderr
    p = run(["dkim", "show", "nokeys.test", "--config", deployment["config"]], check=False)
    assert p.returncode == 1
