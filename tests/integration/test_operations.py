"""Running petrel as an operator does: TLS certificate from config and reloaded on SIGHUP,
the privilege drop after binding, `petrel config check`, and log hygiene (AUTH secrets never
logged, peer bytes escaped: STYLE §5)."""
import base64
import hashlib
import os
import signal
import socket
import subprocess

import pytest

from petrel_harness import (PASSWORD, USER, RawSmtp, client_tls_context, petrel_bin, session,
                            wait_until)


def _make_cert(directory, name, cn):
    key, cert = directory / f"{name}.key", directory / f"{name}.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-subj", f"/CN={cn}", "-days", "2"], check=True, capture_output=True,
                   timeout=30)
    key.chmod(0o644)   # readable by the user petrel drops to (docs/configuration.md, Privileges)
    return cert, key


def _served_fingerprint(port):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with client_tls_context().wrap_socket(raw, server_hostname="mx.example.test") as t:
            der = t.getpeercert(binary_form=True)
    return hashlib.sha256(der).hexdigest()


def _fingerprint(pem_path):
    der = subprocess.run(["openssl", "x509", "-in", str(pem_path), "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return hashlib.sha256(der).hexdigest()


def test_configured_certificate_is_served_and_reloaded_on_sighup(petrel_factory, workdir):
    certs = workdir / "certs"
    certs.mkdir()
    certs.chmod(0o755)
    cert_a, key_a = _make_cert(certs, "a", "first.example.test")
    cert_b, key_b = _make_cert(certs, "b", "second.example.test")
    live_cert, live_key = certs / "live.pem", certs / "live.key"
    live_cert.write_bytes(cert_a.read_bytes())
    live_key.write_bytes(key_a.read_bytes())
    live_key.chmod(0o644)
    inst = petrel_factory({"tls": {"cert": str(live_cert), "key": str(live_key)}})
    port = inst.port("submissions")
    assert _served_fingerprint(port) == _fingerprint(cert_a), "the configured certificate is not served"
    live_cert.write_bytes(cert_b.read_bytes())
    live_key.write_bytes(key_b.read_bytes())
    os.kill(inst.pid, signal.SIGHUP)
    wait_until(lambda: _served_fingerprint(port) == _fingerprint(cert_b), 10,
               what="the new certificate after SIGHUP")
    assert inst.alive()
    # A broken file on reload keeps the old certificate (and petrel running).
    reloads = inst.output().lower().count("reload")
    live_cert.write_text("not a certificate\n")
    os.kill(inst.pid, signal.SIGHUP)
    wait_until(lambda: inst.output().lower().count("reload") > reloads, 10,
               what="the failed reload logged")
    assert inst.alive(), "a bad certificate on SIGHUP must not stop petrel"
    assert _served_fingerprint(port) == _fingerprint(cert_b)


@pytest.mark.skipif(os.geteuid() != 0, reason="the privilege drop happens only when started as root")
def test_drops_root_after_binding(petrel):
    with open(f"/proc/{petrel.pid}/status") as f:
        uids = next(l for l in f if l.startswith("Uid:")).split()[1:]
    assert all(u != "0" for u in uids), f"petrel still runs with a root uid: {uids}"
    # It still bound the ports (as root could) and still serves.
    with session(petrel) as s:
        s.ehlo()


def test_config_check_names_the_bad_line(workdir):
    good = workdir / "good.toml"
    good.write_text('hostname = "mx.example.test"\n[[listener]]\nkind = "mx"\n'
                    'address = "127.0.0.1:0"\n')
    cp = subprocess.run([petrel_bin(), "config", "check", str(good)], capture_output=True,
                        text=True, timeout=30)
    assert cp.returncode == 0, cp.stdout + cp.stderr
    cases = {
        'hostname = "mx.example.test"\n[[listener]]\nkind = "mx"\nadress = "127.0.0.1:25"\n': 4,
        'hostname = "mx.example.test"\n\n[limits]\nmax_recipients = "many"\n': 4,
        'hostname = "mx.example.test"\n[[listener]]\nkind = "smtp"\naddress = "127.0.0.1:25"\n': 3,
        'data_dir = "x"\n[domains]\nlocal = ["example.test"]\nrelay = ["exa mple.test"]\n': 4,
    }
    for text, line in cases.items():
        bad = workdir / "bad.toml"
        bad.write_text(text)
        cp = subprocess.run([petrel_bin(), "config", "check", str(bad)], capture_output=True,
                            text=True, timeout=30)
        out = cp.stdout + cp.stderr
        assert cp.returncode != 0, f"accepted a bad config:\n{text}"
        assert f"{bad}:{line}:" in out, f"error should name line {line}:\n{text}\n->\n{out}"


def test_auth_secrets_never_reach_the_log(petrel_factory):
    inst = petrel_factory()
    wrong = "Wr0ng-secret-xyz"
    with session(inst, "submissions") as s:
        s.ehlo()
        assert s.auth_plain(USER, wrong).code == 535
        assert s.auth_plain(USER, PASSWORD).code == 235
    with session(inst, "submissions") as s:
        s.ehlo()
        assert s.cmd("AUTH LOGIN " + base64.b64encode(USER.encode()).decode()).code == 334
        assert s.cmd(base64.b64encode(PASSWORD.encode()).decode()).code == 235
    log = inst.output()
    for secret in (PASSWORD, wrong, base64.b64encode(PASSWORD.encode()).decode(),
                   base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode(),
                   base64.b64encode(f"\0{USER}\0{wrong}".encode()).decode()):
        assert secret not in log, f"an AUTH secret appears in the log: {secret!r}"
    assert "auth" in log.lower() and "127.0.0.1" in log, "AUTH outcomes should be logged"


def test_peer_control_bytes_are_escaped_in_the_log(petrel_factory):
    inst = petrel_factory()
    with session(inst) as s:
        s.send(b"EHLO \x1b[2Jevil\x07.test\r\n")
        s.reply()
        s.send(b"MAIL FROM:<\x1b]0;pwn\x07@client.test>\r\n")
        s.reply()
        s.send(b"XYZZY \x1b[31m\x00\x08 red\r\n")
        s.reply()
        s.send(b"QUIT\r\n")
        s.reply()
    raw = inst.stdout_path.read_bytes() + inst.stderr_path.read_bytes()
    for b in (b"\x1b", b"\x07", b"\x00", b"\x08"):
        assert b not in raw, f"raw control byte {b!r} reached the log"


def test_sigterm_stops_cleanly_with_a_client_connected(petrel_factory):
    inst = petrel_factory()
    s = session(inst)
    s.ehlo()
    inst.stop(check=True)      # raises if it crashed, hung, or was killed by a signal
    assert s.is_closed(5), "the client connection should be closed on shutdown"
    s.close()
