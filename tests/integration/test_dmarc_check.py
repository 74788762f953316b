"""DMARC through the CLI: `petrel check dmarc` discovers policies (RFC 7489 §6.6.3) from
_dmarc TXT records served by a real dnsmasq on loopback and reports result, policy and
disposition: pass by aligned SPF or DKIM, fail with p=reject, strict alignment, sp= for a
subdomain found through the organizational domain, the author's own record winning, pct=
sampling, no record, several records, an unusable record, a temporary DNS failure, and the
From domain read from a message file.

Run with:
    PETREL_BIN=build/petrel /usr/bin/python3 -m pytest -q tests/integration/test_dmarc_check.py
"""
import json
import subprocess

import pytest

import dns_server
from dns_server import DnsServer
from petrel_harness import petrel_bin

pytestmark = pytest.mark.skipif(not dns_server.available(), reason="dnsmasq not installed")

# Zone "test" is local, so every *.test name is answered (NXDOMAIN when unlisted); "*.example"
# is not, and dnsmasq (no upstream) answers REFUSED: a temporary failure.
TXT = {
    "_dmarc.relaxed.test": ["v=DMARC1; p=reject"],
    "_dmarc.strict.test": ["v=DMARC1; p=reject; sp=quarantine; adkim=s; aspf=s"],
    "_dmarc.own.strict.test": ["v=DMARC1; p=none"],
    "_dmarc.pct.test": ["v=DMARC1; p=reject; pct=30"],
    "_dmarc.monitor.test": ["v=DMARC1; p=none; rua=mailto:dmarc@monitor.test"],
    "_dmarc.two.test": ["v=DMARC1; p=reject", "v=DMARC1; p=none"],
    "_dmarc.bad.test": ["v=DMARC1; p=bogus"],
    "_dmarc.spfonly.test": ["v=spf1 -all"],
}


@pytest.fixture(scope="module")
def dns():
    with DnsServer("test", txt=TXT) as server:
        yield server


def check(dns, *args):
    proc = subprocess.run([petrel_bin(), "check", "dmarc", "--dns", dns.address, "--json", *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode in (0, 1), proc.stderr
    out = json.loads(proc.stdout)
    assert (proc.returncode == 0) == (out["result"] == "pass")
    return out


def test_dnsmasq_serves_the_dmarc_names(dns):
    rcode, answers = dns_server.query(dns.port, "_dmarc.relaxed.test", "TXT")
    assert rcode == 0
    assert dns_server.txt_strings(answers[0][2]) == [b"v=DMARC1; p=reject"]


def test_pass_by_aligned_dkim(dns):
    out = check(dns, "--from-domain", "relaxed.test", "--dkim-pass", "other.example",
                "--dkim-pass", "mail.relaxed.test")
    assert (out["result"], out["policy"], out["disposition"]) == ("pass", "reject", "none")
    assert out["dkim_aligned"] and not out["spf_aligned"]
    assert out["policy_domain"] == "relaxed.test"


def test_pass_by_aligned_spf(dns):
    out = check(dns, "--from-domain", "relaxed.test", "--spf-pass", "--spf-domain", "bounce.relaxed.test")
    assert out["result"] == "pass" and out["spf_aligned"]


def test_fail_reject_when_nothing_aligns(dns):
    out = check(dns, "--from-domain", "relaxed.test", "--spf-pass", "--spf-domain", "relaxed.example",
                "--dkim-pass", "relaxed.example")
    assert (out["result"], out["policy"], out["disposition"]) == ("fail", "reject", "reject")


def test_strict_alignment(dns):
    out = check(dns, "--from-domain", "strict.test", "--spf-pass", "--spf-domain", "mail.strict.test",
                "--dkim-pass", "mail.strict.test")
    assert (out["result"], out["disposition"]) == ("fail", "reject")
    out = check(dns, "--from-domain", "strict.test", "--dkim-pass", "STRICT.test")
    assert out["result"] == "pass"


def test_subdomain_gets_sp_from_the_organizational_domain(dns):
    out = check(dns, "--from-domain", "news.strict.test", "--sample", "0")
    assert (out["result"], out["policy"], out["disposition"]) == ("fail", "quarantine", "quarantine")
    assert out["policy_domain"] == "strict.test"
    assert out["header_from"] == "news.strict.test"


def test_subdomain_with_its_own_record(dns):
    out = check(dns, "--from-domain", "own.strict.test")
    assert (out["result"], out["policy"], out["disposition"]) == ("fail", "none", "none")
    assert out["policy_domain"] == "own.strict.test"


def test_pct_sampling(dns):
    inside = check(dns, "--from-domain", "pct.test", "--sample", "29")
    outside = check(dns, "--from-domain", "pct.test", "--sample", "30")
    assert (inside["result"], inside["disposition"]) == ("fail", "reject")
    assert (outside["result"], outside["policy"], outside["disposition"]) == ("fail", "reject", "quarantine")


def test_monitoring_policy(dns):
    out = check(dns, "--from-domain", "monitor.test")
    assert (out["result"], out["policy"], out["disposition"]) == ("fail", "none", "none")


@pytest.mark.parametrize("domain", ["nodmarc.test", "sub.nodmarc.test", "spfonly.test"])
def test_no_record_is_none(dns, domain):
    out = check(dns, "--from-domain", domain, "--dkim-pass", domain)
    assert (out["result"], out["policy"], out["disposition"]) == ("none", "none", "none")


@pytest.mark.parametrize("domain", ["two.test", "bad.test"])
def test_several_or_unusable_records_are_permerror(dns, domain):
    out = check(dns, "--from-domain", domain)
    assert (out["result"], out["disposition"]) == ("permerror", "none")


def test_dns_failure_is_temperror(dns):
    out = check(dns, "--from-domain", "unreachable.example")
    assert out["result"] == "temperror"
    assert out["reason"].startswith("temporary DNS failure at _dmarc.unreachable.example")


def test_from_domain_read_from_message(dns, tmp_path):
    msg = tmp_path / "m.eml"
    msg.write_bytes(b"Subject: hi\nFrom: \"Boss <boss@relaxed.test>\" <x@news.strict.test>\n\nFrom: y@relaxed.test\n")
    out = check(dns, "--message", str(msg), "--sample", "0")
    assert out["header_from"] == "news.strict.test"
    assert out["policy"] == "quarantine"


def test_message_with_two_authors_is_refused(dns, tmp_path):
    msg = tmp_path / "m.eml"
    msg.write_bytes(b"From: a@relaxed.test, b@strict.test\r\n\r\nbody\r\n")
    proc = subprocess.run([petrel_bin(), "check", "dmarc", "--dns", dns.address, "--message", str(msg)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "several addresses in From" in proc.stderr


def test_text_output(dns):
    proc = subprocess.run([petrel_bin(), "check", "dmarc", "--dns", dns.address, "--from-domain",
                           "relaxed.test", "--sample", "0"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stdout.startswith("dmarc=fail policy=reject disposition=reject header.from=relaxed.test "
                                  "policy.domain=relaxed.test spf_aligned=no dkim_aligned=no reason=\"")


def test_bad_arguments(dns):
    for args in ([], ["--from-domain", "a.test", "--message", "/dev/null"], ["--from-domain", "a.test", "--spf-pass"],
                 ["--from-domain", "a.test", "--sample", "100"]):
        proc = subprocess.run([petrel_bin(), "check", "dmarc", "--dns", dns.address, *args],
                              capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2, args
