"""Outbound TLS and IPv6 (issue 4; docs/delivery.md "TLS policy"): a smart host with implicit
TLS (RFC 8314) and AUTH, certificate verification against a test CA (smart host `ca_file`;
MX `tls = "required"` with the destination's `ca_file`), untrusted and wrongly named certificates deferred with nothing sent, and an MX whose
AAAA record is ::1. Real peers on loopback: dnsmasq, aiosmtpd (STARTTLS or TLS from the first
byte), certificates made by the openssl command. Run with /usr/bin/python3.
"""
import socket
import subprocess

import pytest

pytest.importorskip("aiosmtpd")

from delivery_env import (HOSTS, dns_for, make_cert, queue_list, send, start,  # noqa: E402
                          wait_queue_empty)
from dns_server import available as dns_available  # noqa: E402
from petrel_harness import free_port, wait_until  # noqa: E402
from smtp_receiver import Receiver, free_port_on  # noqa: E402

if not dns_available():
    pytest.skip("dnsmasq not installed", allow_module_level=True)

RELAY = "127.0.0.6"          # relay.test: the smart host
SECURE_MX = "127.0.0.7"      # mx.secure.test: secure.test's MX
AUTH = ("relayuser", "pw for the relay")


@pytest.fixture
def port():
    return free_port_on(HOSTS)


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_ca(d):
    """A test CA (P-256): (ca.pem, ca.key)."""
    ca, key = str(d / "ca.pem"), str(d / "ca.key")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", ca, "-days", "2", "-subj", "/CN=petrel test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return ca, key


def issue(d, ca, name):
    """A server certificate for DNS name `name` signed by `ca`: (cert, key)."""
    cert, key, csr, ext = (str(d / f"{name}.pem"), str(d / f"{name}.key"), str(d / f"{name}.csr"),
                           d / f"{name}.ext")
    ext.write_text(f"subjectAltName=DNS:{name}\nextendedKeyUsage=serverAuth\n")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
    openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
            "-out", cert, "-days", "2", "-extfile", str(ext))
    return cert, key


def relay_dns():
    return dns_for(a={"relay.test": [RELAY]})


def smarthost(port, ca, tls, **more):
    s = {"host": f"relay.test:{port}", "tls": tls, "tls_verify": True, "ca_file": ca}
    s.update(more)
    return {"mode": "smarthost", "smarthost": s}


def wait_deferred(inst, qid):
    entry = wait_until(lambda: [m for m in queue_list(inst) if m["id"] == qid and m["attempts"] >= 1],
                       20, what="a recorded attempt")[0]
    return entry["recipients"][0]["last_error"]


# aiosmtpd warns about AUTH without STARTTLS: here the whole connection is TLS.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_smarthost_with_auth_and_verified_certificate(petrel_factory, port, workdir):
    """TLS from the first byte (no STARTTLS), the relay's certificate checked against ca_file
    and its name, then AUTH: the message arrives, MAIL only under TLS."""
    ca = make_ca(workdir)
    cert = issue(workdir, ca, "relay.test")
    with relay_dns() as dns, Receiver(RELAY, port, tls_cert=cert, implicit_tls=True,
                                      auth=AUTH) as relay:
        inst = start(petrel_factory, dns, port,
                     smarthost(port, ca[0], "implicit", username=AUTH[0], password=AUTH[1]))
        send(inst, ["ivy@dest.test"])
        try:
            [m] = relay.wait_for(1)
        except TimeoutError:
            raise AssertionError(inst.log_tail(30))
        assert m.rcpts == ["ivy@dest.test"]
        assert relay.auth_logins == [AUTH[0]]
        assert relay.tls_on_mail == [True]
        wait_queue_empty(inst)
        assert AUTH[1] not in inst.output()


def test_implicit_tls_refuses_a_cleartext_server(petrel_factory, port, workdir):
    """tls = "implicit" against a server that speaks clear text: the handshake fails, the
    mail is deferred and no MAIL reaches the server."""
    ca = make_ca(workdir)
    with relay_dns() as dns, Receiver(RELAY, port) as relay:
        inst = start(petrel_factory, dns, port, smarthost(port, ca[0], "implicit"))
        qid = send(inst, ["ivy@dest.test"])
        err = wait_deferred(inst, qid)
        assert "4.7.5" in err or "TLS" in err, err
        assert relay.mail_count == 0


@pytest.mark.parametrize("case", ["self-signed", "wrong-name"])
def test_starttls_smarthost_with_untrusted_certificate_is_deferred(petrel_factory, port, workdir,
                                                                   case):
    """tls_verify with ca_file = the test CA: a self-signed certificate, or one from that CA
    for another name, fails verification: deferred, nothing sent (the receiver sees no MAIL)."""
    ca = make_ca(workdir)
    cert = make_cert(workdir, "relay.test") if case == "self-signed" else \
        issue(workdir, ca, "other.test")
    with relay_dns() as dns, Receiver(RELAY, port, tls_cert=cert) as relay:
        inst = start(petrel_factory, dns, port, smarthost(port, ca[0], "starttls"))
        qid = send(inst, ["jon@dest.test"])
        err = wait_deferred(inst, qid)
        assert "certificate verification failed" in err, err
        assert relay.ehlo_count >= 1, "petrel did connect"
        assert relay.mail_count == 0 and relay.messages == []


def test_starttls_smarthost_with_certificate_from_ca_file_is_delivered(petrel_factory, port,
                                                                       workdir):
    ca = make_ca(workdir)
    cert = issue(workdir, ca, "relay.test")
    with relay_dns() as dns, Receiver(RELAY, port, tls_cert=cert) as relay:
        inst = start(petrel_factory, dns, port, smarthost(port, ca[0], "starttls"))
        send(inst, ["kim@dest.test"])
        assert relay.wait_for(1)[0].rcpts == ["kim@dest.test"]
        assert relay.tls_on_mail == [True]
        wait_queue_empty(inst)


@pytest.mark.parametrize("trusted", [True, False])
def test_mx_tls_required_verifies_the_certificate(petrel_factory, port, workdir, trusted):
    """secure.test with tls = "required" and ca_file = the test CA ([[delivery.destination]]):
    the MX's certificate for mx.secure.test is checked against that CA instead of the system
    store. Issued by the CA → delivered over TLS; self-signed → deferred, no MAIL."""
    ca = make_ca(workdir)
    cert = issue(workdir, ca, "mx.secure.test") if trusted else make_cert(workdir, "mx.secure.test")
    with dns_for() as dns, Receiver(SECURE_MX, port, tls_cert=cert) as mx:
        inst = start(petrel_factory, dns, port,
                     {"destination": [{"domains": ["secure.test"], "tls": "required",
                                       "ca_file": ca[0]}]})
        qid = send(inst, ["lee@secure.test"])
        if trusted:
            assert mx.wait_for(1)[0].rcpts == ["lee@secure.test"]
            assert mx.tls_on_mail == [True]
            wait_queue_empty(inst)
        else:
            err = wait_deferred(inst, qid)
            assert "certificate verification failed" in err, err
            assert mx.mail_count == 0


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="no ::1 on this machine")
def test_mx_with_aaaa_on_ipv6_loopback(petrel_factory):
    """v6.test's MX has only an AAAA record (::1) and the receiver listens on [::1] only:
    petrel connects over IPv6 and delivers."""
    port = free_port("::1")
    with dns_for(mx=[("v6.test", "mx.v6.test", 10)], aaaa={"mx.v6.test": ["::1"]}) as dns, \
            Receiver("::1", port) as mx:
        inst = start(petrel_factory, dns, port,
                     domains={"local": ["example.test"], "relay": ["v6.test"]})
        qid = send(inst, ["max@v6.test"])
        [m] = mx.wait_for(1)
        assert m.rcpts == ["max@v6.test"]
        wait_queue_empty(inst)
        assert f"qid={qid} to=<max@v6.test> relay=mx.v6.test status=sent" in inst.output()
