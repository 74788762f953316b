"""Real SMTP clients against the listeners: swaks, curl, msmtp and openssl s_client."""
import re
import shutil
import subprocess
import uuid

import pytest

from petrel_harness import PASSWORD, USER

QUEUED = re.compile(r"250 2\.0\.0 Ok: queued as [0-9a-hjkmnp-tv-z]{14}")


def _need(tool):
    if shutil.which(tool) is None:
        pytest.fail(f"{tool} is not installed (scripts/install-deps.sh installs it)")


def _run(cmd, timeout=30, **kw):
    cp = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)
    return cp, cp.stdout + cp.stderr


# -- swaks ---------------------------------------------------------------------------------

def _swaks(petrel, kind, marker, *extra, password=PASSWORD):
    _need("swaks")
    return _run(["swaks", "--server", f"127.0.0.1:{petrel.port(kind)}",
                 "--helo", "swaks.client.test", "--from", "app@client.test",
                 "--to", "someone@other.test", "--header", f"Subject: swaks {marker}",
                 "--body", f"swaks body {marker}", "--auth-user", USER,
                 "--auth-password", password, "--timeout", "20", *extra])


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_swaks_starttls_auth_on_submission(petrel, mech):
    marker = uuid.uuid4().hex
    cp, out = _swaks(petrel, "submission", marker, "--tls", "--auth", mech)
    assert cp.returncode == 0, out
    assert "<-  220" in out and "TLS started" in out, out
    assert re.search(r"<~  235 2\.7\.0", out), out
    assert QUEUED.search(out), out
    petrel.wait_for_stored(marker.encode())


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_swaks_implicit_tls_on_submissions(petrel, mech):
    marker = uuid.uuid4().hex
    cp, out = _swaks(petrel, "submissions", marker, "--tlsc", "--auth", mech)
    assert cp.returncode == 0, out
    assert re.search(r"<~  235 2\.7\.0", out), out
    assert QUEUED.search(out), out
    petrel.wait_for_stored(marker.encode())


def test_swaks_wrong_password_is_535(petrel):
    cp, out = _swaks(petrel, "submission", uuid.uuid4().hex, "--tls", "--auth", "PLAIN",
                     password="wrong")
    assert cp.returncode != 0, out
    assert re.search(r"<~\*\s+535 5\.7\.8", out), out
    assert not QUEUED.search(out)


def test_swaks_plain_mx(petrel):
    _need("swaks")
    marker = uuid.uuid4().hex
    cp, out = _run(["swaks", "--server", f"127.0.0.1:{petrel.port('mx')}", "--helo",
                    "swaks.client.test", "--from", "a@client.test", "--to", "user@example.test",
                    "--body", f"mx body {marker}", "--pipeline", "--timeout", "20"])
    assert cp.returncode == 0, out
    assert QUEUED.search(out), out
    petrel.wait_for_stored(marker.encode())


# -- curl ----------------------------------------------------------------------------------

def _curl(petrel, url, marker, *extra):
    _need("curl")
    msg = petrel.workdir / f"curl-{marker}.eml"
    msg.write_bytes(f"From: app@client.test\r\nTo: someone@other.test\r\nSubject: curl\r\n\r\n"
                    f"curl body {marker}\r\n".encode())
    return _run(["curl", "-sS", "-v", "--max-time", "20", "-k", "--url", url,
                 "--user", f"{USER}:{PASSWORD}", "--mail-from", "app@client.test",
                 "--mail-rcpt", "someone@other.test", "--upload-file", str(msg), *extra])


def test_curl_smtp_ssl_reqd_on_submission(petrel):
    marker = uuid.uuid4().hex
    cp, out = _curl(petrel, f"smtp://127.0.0.1:{petrel.port('submission')}/curl.client.test",
                    marker, "--ssl-reqd")
    assert cp.returncode == 0, out
    assert "> EHLO curl.client.test" in out, out         # the URL path is the EHLO name
    assert "> STARTTLS" in out, out
    assert QUEUED.search(out), out
    petrel.wait_for_stored(marker.encode())


def test_curl_smtps_on_submissions(petrel):
    marker = uuid.uuid4().hex
    cp, out = _curl(petrel, f"smtps://127.0.0.1:{petrel.port('submissions')}/curl.client.test",
                    marker)
    assert cp.returncode == 0, out
    assert "> EHLO curl.client.test" in out, out
    assert QUEUED.search(out), out
    petrel.wait_for_stored(marker.encode())


def test_curl_without_tls_cannot_auth_on_submission(petrel):
    """curl without --ssl-reqd on 587 must not manage to log in over plaintext."""
    marker = uuid.uuid4().hex
    cp, out = _curl(petrel, f"smtp://127.0.0.1:{petrel.port('submission')}/curl.client.test",
                    marker)
    assert cp.returncode != 0, out
    assert not QUEUED.search(out), out


# -- msmtp ---------------------------------------------------------------------------------

def test_msmtp_starttls_auth_on_submission(petrel):
    _need("msmtp")
    marker = uuid.uuid4().hex
    conf = petrel.workdir / "msmtprc"
    conf.write_text(f"""defaults
logfile -
account petrel
host 127.0.0.1
port {petrel.port('submission')}
domain msmtp.client.test
tls on
tls_starttls on
tls_certcheck off
auth on
user {USER}
password {PASSWORD}
from app@client.test
account default : petrel
""")
    conf.chmod(0o600)
    msg = (f"From: app@client.test\nTo: someone@other.test\nSubject: msmtp\n\n"
           f"msmtp body {marker}\n")
    cp, out = _run(["msmtp", "-C", str(conf), "-a", "petrel", "someone@other.test"],
                   input=msg)
    assert cp.returncode == 0, out
    petrel.wait_for_stored(marker.encode())


# -- openssl s_client ------------------------------------------------------------------------

def _s_client(port, *extra):
    _need("openssl")
    return _run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-starttls", "smtp",
                 "-name", "client.test", *extra], stdin=subprocess.DEVNULL)


def test_openssl_starttls_negotiates_tls12_or_later(petrel):
    cp, out = _s_client(petrel.port("submission"))
    assert cp.returncode == 0, out
    m = re.search(r"New, (TLSv[\d.]+), Cipher is ", out)
    assert m, out
    assert m.group(1) in ("TLSv1.2", "TLSv1.3"), m.group(1)


def test_openssl_tls12_is_accepted(petrel):
    cp, out = _s_client(petrel.port("mx"), "-tls1_2")
    assert cp.returncode == 0, out
    assert re.search(r"New, TLSv1\.2, Cipher is ", out), out


@pytest.mark.parametrize("flag", ["-tls1_1", "-tls1"])
def test_openssl_old_tls_is_refused(petrel, flag):
    # SECLEVEL=0 lets the client offer TLS 1.0/1.1 at all: the refusal must come from petrel.
    cp, out = _s_client(petrel.port("submission"), flag, "-cipher", "DEFAULT@SECLEVEL=0")
    assert cp.returncode != 0, f"{flag} handshake succeeded:\n{out}"
    assert "Cipher is (NONE)" in out or "alert" in out.lower() or "handshake failure" in out, out


def test_python_tls11_client_is_refused_on_submissions(petrel):
    import ssl
    import socket
    from petrel_harness import client_tls_context
    ctx = client_tls_context(min_version=ssl.TLSVersion.TLSv1_1,
                             max_version=ssl.TLSVersion.TLSv1_1)
    with socket.create_connection(("127.0.0.1", petrel.port("submissions")), timeout=10) as raw:
        with pytest.raises((ssl.SSLError, ConnectionResetError)):
            with ctx.wrap_socket(raw, server_hostname="mx.example.test") as t:
                t.recv(10)
