"""SPF cross-check: `petrel check spf` and pyspf (Debian python3-spf, an independent RFC 7208
implementation) evaluate the same (client IP, sender, HELO) cases against the same records,
served by a real dnsmasq on loopback, and must agree on the result, and on the explanation
where a record publishes exp=. The cases cover every mechanism, the modifiers, macros, the
HELO identity (null sender), IPv6 and IPv4-mapped clients, PTR, and the error results.

Run with Debian's Python (pyspf and dnspython are Debian packages):
    PETREL_BIN=build/petrel /usr/bin/python3 -m pytest -q tests/integration/test_spf_interop.py
"""
import json
import subprocess

import pytest

import dns_server
from dns_server import DnsServer
from petrel_harness import petrel_bin

spf = pytest.importorskip("spf")
dns_resolver = pytest.importorskip("dns.resolver")

pytestmark = [pytest.mark.skipif(not dns_server.available(), reason="dnsmasq not installed"),
              pytest.mark.filterwarnings("ignore::DeprecationWarning")]  # pyspf calls dns.resolver.query

Z = "spf.test"
TXT = {
    f"pass.{Z}": ["v=spf1 ip4:192.0.2.0/24 -all"],
    f"fail.{Z}": ["v=spf1 ip4:198.51.100.1 -all exp=why.spf.test"],
    f"why.{Z}": ["%{i} is not one of %{d}'s senders (%{s})"],
    f"soft.{Z}": ["v=spf1 ~all"],
    f"neutral.{Z}": ["v=spf1 ?all"],
    f"a.{Z}": ["v=spf1 a/24 a:host6.spf.test//64 -all"],
    f"mx.{Z}": ["v=spf1 mx -all"],
    f"inc.{Z}": ["v=spf1 include:pass.spf.test -all"],
    f"incnone.{Z}": ["v=spf1 include:nothing.spf.test -all"],
    f"redir.{Z}": ["v=spf1 redirect=fail.spf.test"],
    f"exists.{Z}": ["v=spf1 exists:%{ir}.list.spf.test -all"],
    f"ptr.{Z}": ["v=spf1 ptr -all"],
    f"syntax.{Z}": ["v=spf1 ip4:192.0.2.300 -all"],
    f"two.{Z}": ["v=spf1 -all", "v=spf1 +all"],
    f"void.{Z}": ["v=spf1 a:n1.spf.test a:n2.spf.test a:n3.spf.test -all"],
    f"loop.{Z}": ["v=spf1 include:loop2.spf.test -all"],
    f"loop2.{Z}": ["v=spf1 include:loop.spf.test -all"],
    f"temp.{Z}": ["v=spf1 include:outside.example -all"],
    f"helo.{Z}": ["v=spf1 a -all"],
    f"v6.{Z}": ["v=spf1 ip6:2001:db8:1::/48 -all"],
    f"mac.{Z}": ["v=spf1 exists:%{l}.users.spf.test -all"],
    f"split.{Z}": [["v=spf1 ip4:192.0.2.1", " -all"]],  # two strings, joined without a space
}
A = {
    f"a.{Z}": ["192.0.2.10"],
    f"mx1.{Z}": ["192.0.2.20"],
    f"helo.{Z}": ["192.0.2.30"],
    f"host77.ptr.{Z}": ["192.0.2.77"],
    f"10.2.0.192.list.{Z}": ["127.0.0.2"],
    f"alice.users.{Z}": ["127.0.0.2"],
}
AAAA = {f"host6.{Z}": ["2001:db8::10"]}
MX = [(f"mx.{Z}", f"mx1.{Z}", 10)]

# (client ip, MAIL FROM, HELO)
CASES = [
    ("192.0.2.5", "user@pass.spf.test", "client.example"),
    ("203.0.113.5", "user@pass.spf.test", "client.example"),
    ("203.0.113.5", "user@fail.spf.test", "client.example"),
    ("198.51.100.1", "user@fail.spf.test", "client.example"),
    ("203.0.113.5", "user@soft.spf.test", "client.example"),
    ("203.0.113.5", "user@neutral.spf.test", "client.example"),
    ("192.0.2.99", "user@a.spf.test", "client.example"),
    ("198.51.100.9", "user@a.spf.test", "client.example"),
    ("2001:db8::abcd", "user@a.spf.test", "client.example"),
    ("192.0.2.20", "user@mx.spf.test", "client.example"),
    ("192.0.2.21", "user@mx.spf.test", "client.example"),
    ("192.0.2.44", "user@inc.spf.test", "client.example"),
    ("192.0.2.44", "user@incnone.spf.test", "client.example"),
    ("203.0.113.7", "user@redir.spf.test", "client.example"),
    ("192.0.2.10", "user@exists.spf.test", "client.example"),
    ("192.0.2.11", "user@exists.spf.test", "client.example"),
    ("192.0.2.77", "user@ptr.spf.test", "client.example"),
    ("192.0.2.78", "user@ptr.spf.test", "client.example"),
    ("192.0.2.5", "user@syntax.spf.test", "client.example"),
    ("192.0.2.5", "user@two.spf.test", "client.example"),
    ("192.0.2.5", "user@void.spf.test", "client.example"),
    ("192.0.2.5", "user@loop.spf.test", "client.example"),
    ("192.0.2.5", "user@temp.spf.test", "client.example"),
    ("192.0.2.30", "", "helo.spf.test"),
    ("192.0.2.31", "", "helo.spf.test"),
    ("2001:db8:1::5", "user@v6.spf.test", "client.example"),
    ("2001:db8:2::5", "user@v6.spf.test", "client.example"),
    ("::ffff:192.0.2.5", "user@pass.spf.test", "client.example"),
    ("192.0.2.5", "alice@mac.spf.test", "client.example"),
    ("192.0.2.5", "bob@mac.spf.test", "client.example"),
    ("192.0.2.5", "user@nothing.spf.test", "client.example"),
    ("192.0.2.1", "user@split.spf.test", "client.example"),
]
# Records that publish exp=: only for these is pyspf's explanation the domain's own text.
EXP_DOMAINS = {"fail.spf.test", "redir.spf.test"}


@pytest.fixture(scope="module")
def dns():
    # Reverse zones are local too, so a missing PTR is NXDOMAIN, not REFUSED.
    extra = ["--local=/in-addr.arpa/", "--local=/ip6.arpa/"]
    with DnsServer(Z, txt=TXT, a=A, aaaa=AAAA, mx=MX, extra_args=extra) as server:
        yield server


@pytest.fixture(scope="module")
def pyspf_at(dns):
    resolver = dns_resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = dns.port
    resolver.lifetime = 5
    saved = dns_resolver.default_resolver
    dns_resolver.default_resolver = resolver
    yield
    dns_resolver.default_resolver = saved


def petrel_check(dns, ip, sender, helo):
    proc = subprocess.run(
        [petrel_bin(), "check", "spf", "--ip", ip, "--sender", sender, "--helo", helo,
         "--dns", dns.address, "--receiver", "receiver.example", "--json"],
        capture_output=True, text=True, timeout=60)
    assert proc.returncode in (0, 1), proc.stderr
    out = json.loads(proc.stdout)
    assert (proc.returncode == 0) == (out["result"] == "pass")
    return out


@pytest.mark.parametrize("ip,sender,helo", CASES, ids=[f"{c[0]}-{c[1] or 'null'}" for c in CASES])
def test_petrel_agrees_with_pyspf(dns, pyspf_at, ip, sender, helo):
    expected, explanation = spf.check2(i=ip, s=sender, h=helo, receiver="receiver.example",
                                       querytime=20)
    got = petrel_check(dns, ip, sender, helo)
    assert got["result"] == expected, got
    domain = sender.rpartition("@")[2] if sender else helo
    if expected == "fail" and domain in EXP_DOMAINS:
        assert got["explanation"] == explanation


def test_results_cover_every_kind(dns, pyspf_at):
    """The case list exercises all seven results, so agreement means something."""
    seen = {spf.check2(i=ip, s=s, h=h, querytime=20)[0] for ip, s, h in CASES}
    assert seen == {"pass", "fail", "softfail", "neutral", "none", "permerror", "temperror"}


def test_other_check_kinds_say_not_implemented():
    proc = subprocess.run([petrel_bin(), "check", "mx", "example.com"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2
    assert "not implemented yet" in proc.stderr
