"""`petrel serve` with no config file: the zero-config default of PRODUCT.md (mx 2525,
submission 2587, submissions 2465 on 127.0.0.1, data in ./petrel-data, a self-signed
certificate generated on first start, and a message saying where it listens)."""
import signal
import subprocess

import pytest

from petrel_harness import (RawSmtp, petrel_bin, port_is_free, wait_until, _check_sanitizers)

DEFAULT_PORTS = {"mx": 2525, "submission": 2587, "submissions": 2465}


def test_zero_config_serve(workdir):
    tmp_path = workdir
    busy = [p for p in DEFAULT_PORTS.values() if not port_is_free("127.0.0.1", p)]
    if busy:
        pytest.skip(f"default ports busy: {busy}")
    out_path, err_path = tmp_path / "stdout", tmp_path / "stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen([petrel_bin(), "serve"], cwd=tmp_path, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err, start_new_session=True)
        try:
            def output():
                return out_path.read_text(errors="replace") + err_path.read_text(errors="replace")

            def listening():
                assert proc.poll() is None, f"petrel exited {proc.returncode}:\n{output()}"
                for port in DEFAULT_PORTS.values():
                    try:
                        RawSmtp("127.0.0.1", port, timeout=2).close()
                    except OSError:
                        return False
                return True
            wait_until(listening, 20, what="the zero-config listeners")
            # It says where it listens (all three addresses).
            wait_until(lambda: all(f"127.0.0.1:{p}" in output() for p in DEFAULT_PORTS.values()),
                       5, what="the listening addresses in petrel's output")
            data = tmp_path / "petrel-data"
            assert data.is_dir(), "no ./petrel-data created"
            pems = [p for p in data.rglob("*") if p.is_file()
                    and b"BEGIN CERTIFICATE" in p.read_bytes()]
            assert pems, f"no generated certificate under {data}"
            # The ports speak SMTP, and 2465 is implicit TLS.
            with RawSmtp("127.0.0.1", 2525) as s:
                assert s.reply().code == 220
                assert "STARTTLS" in s.cmd("EHLO zero.client.test").keywords()
            with RawSmtp("127.0.0.1", 2465, tls=True) as s:
                assert s.reply().code == 220
                assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
                    pytest.fail("petrel did not stop on SIGTERM")
    assert proc.returncode in (0, -signal.SIGTERM), f"petrel exit status {proc.returncode}"
    _check_sanitizers(out_path.read_text(errors="replace") + err_path.read_text(errors="replace"),
                      "petrel serve (zero-config)")
