"""The dnsmasq helper (tests/lib/dns_server.py) that delivery tests point petrel's `[dns]` at:
it serves the MX/A/AAAA/TXT/CNAME records it was given, NXDOMAIN for other names in its zone,
NoData for a missing type, and stops by PID; petrel's config accepts its address.
"""
import subprocess

import pytest

import dns_server
from dns_server import DnsServer, TYPES, query, txt_strings
from petrel_harness import petrel_bin

pytestmark = pytest.mark.skipif(not dns_server.available(), reason="dnsmasq not installed")


def test_serves_the_given_records():
    with DnsServer("mail.test",
                   mx=[("mail.test", "mx1.mail.test", 10), ("mail.test", "mx2.mail.test", 20),
                       ("null.mail.test", ".", 0)],
                   a={"mx1.mail.test": ["127.0.0.2"], "mx2.mail.test": ["127.0.0.3", "127.0.0.4"]},
                   aaaa={"mx2.mail.test": ["::1"]},
                   txt={"mail.test": [["v=spf1 ", "ip4:127.0.0.2 -all"]]},
                   cname={"alias.mail.test": "mx1.mail.test"},
                   ttl=60) as dns:
        rcode, mx = query(dns.port, "mail.test", "MX")
        assert rcode == 0
        prefs = sorted(struct_pref(r) for _, _, r in mx)
        assert prefs == [10, 20]
        assert all(ttl == 60 for _, ttl, _ in mx)

        rcode, a = query(dns.port, "mx2.mail.test", "A")
        assert sorted(bytes(r) for _, _, r in a) == [bytes([127, 0, 0, 3]), bytes([127, 0, 0, 4])]
        rcode, aaaa = query(dns.port, "mx2.mail.test", "AAAA")
        assert [r for _, _, r in aaaa] == [bytes(15) + b"\x01"]

        rcode, txt = query(dns.port, "mail.test", "TXT")
        assert [txt_strings(r) for _, _, r in txt] == [[b"v=spf1 ", b"ip4:127.0.0.2 -all"]]

        rcode, null = query(dns.port, "null.mail.test", "MX")
        assert [r for _, _, r in null] == [b"\x00\x00\x00"]  # preference 0, root name

        rcode, alias = query(dns.port, "alias.mail.test", "A")
        assert [t for t, _, _ in alias] == [TYPES["CNAME"], TYPES["A"]]

        assert query(dns.port, "nowhere.mail.test", "A") == (3, [])   # NXDOMAIN
        assert query(dns.port, "mx1.mail.test", "MX") == (0, [])      # NoData

        pid, port = dns.proc.pid, dns.port
    # Stopped by PID on exit: the port no longer answers.
    with pytest.raises(OSError):
        query(port, "mail.test", "MX", timeout=0.3)
    with pytest.raises(ProcessLookupError):
        import os
        os.kill(pid, 0)


def struct_pref(rdata: bytes) -> int:
    return int.from_bytes(rdata[:2], "big")


def test_petrel_config_accepts_the_server_address(tmp_path):
    with DnsServer("mail.test") as dns:
        cfg = tmp_path / "petrel.toml"
        cfg.write_text(f'[dns]\nservers = ["{dns.address}"]\ntimeout_ms = 200\nattempts = 1\n'
                       'cache_entries = 100\n')
        out = subprocess.run([petrel_bin(), "config", "check", str(cfg)], capture_output=True,
                             text=True, timeout=30)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "ok" in out.stdout + out.stderr
