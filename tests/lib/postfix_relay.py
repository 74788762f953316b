"""postfix_relay — a private Postfix (Debian `postfix`) that accepts mail on 127.0.0.1:PORT and
relays everything to one next hop (`relayhost = [127.0.0.1]:NEXT`), for tests where Postfix is
the sending MTA and petrel the receiver.

    with PostfixRelay(workdir / "pf", next_hop_port=petrel_mx_port) as pf:
        smtplib.SMTP("127.0.0.1", pf.port) ...   # inject
        pf.wait_sent(1)                          # its maillog says status=sent

Unlike bench/postfix-instance.sh (accept only, no queue manager) this instance runs qmgr and
the smtp client, so mail leaves. It never touches /etc/postfix or the system instance: config,
queue and data directories are under DIR (0755, traversable by the postfix user); it is stopped
with `postfix -c DIR/etc stop` (its own master) and, failing that, its master PID. No DNS
(`disable_dns_lookups`), IPv4 loopback only, STARTTLS to the next hop when offered (the
certificate is not checked: `smtp_tls_security_level = may`).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from petrel_harness import free_port, wait_until


def available() -> bool:
    return shutil.which("postfix") is not None or Path("/usr/sbin/postfix").exists()


MASTER_CF = """\
127.0.0.1:{port} inet n - n - 20 smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n -  0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n -  - trivial-rewrite
bounce    unix  - - n -  0 bounce
defer     unix  - - n -  0 bounce
trace     unix  - - n -  0 bounce
verify    unix  - - n -  1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -  - proxymap
smtp      unix  - - n -  - smtp
relay     unix  - - n -  - smtp
error     unix  - - n -  - error
retry     unix  - - n -  - error
discard   unix  - - n -  - discard
anvil     unix  - - n -  1 anvil
scache    unix  - - n -  1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class PostfixRelay:
    def __init__(self, directory: Path, next_hop_port: int, hostname: str = "pf.relay.test"):
        self.dir = Path(directory)
        self.etc, self.queue, self.data = self.dir / "etc", self.dir / "queue", self.dir / "data"
        self.next_hop_port = next_hop_port
        self.hostname = hostname
        self.port = 0

    def _postconf(self, *settings: str):
        subprocess.run(["postconf", "-c", str(self.etc), "-e", *settings], check=True,
                       capture_output=True, timeout=30)

    def start(self) -> "PostfixRelay":
        self.port = free_port()
        for d in (self.etc, self.queue, self.data):
            d.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)
        shutil.chown(self.data, "postfix", "postfix")
        shutil.copy("/etc/postfix/postfix-files", self.etc)
        for extra in ("postfix-files.d", "dynamicmaps.cf.d"):
            if Path("/etc/postfix", extra).is_dir():
                shutil.copytree(Path("/etc/postfix", extra), self.etc / extra, dirs_exist_ok=True)
        if Path("/etc/postfix/dynamicmaps.cf").exists():
            shutil.copy("/etc/postfix/dynamicmaps.cf", self.etc)
        (self.etc / "main.cf").write_text("")
        (self.etc / "master.cf").write_text(MASTER_CF.format(port=self.port))
        self._postconf(
            "compatibility_level=3.6", f"config_directory={self.etc}",
            f"queue_directory={self.queue}", f"data_directory={self.data}",
            "mail_owner=postfix", "setgid_group=postdrop",
            f"myhostname={self.hostname}", "mydomain=relay.test", "myorigin=relay.test",
            "mydestination=", "local_recipient_maps=", "local_transport=error:local_disabled",
            "inet_interfaces=loopback-only", "inet_protocols=ipv4", "mynetworks=127.0.0.0/8",
            "smtpd_relay_restrictions=permit_mynetworks,reject",
            "smtpd_recipient_restrictions=permit_mynetworks,reject",
            f"relayhost=[127.0.0.1]:{self.next_hop_port}", "disable_dns_lookups=yes",
            "smtp_host_lookup=native", "smtpd_tls_security_level=none",
            "smtp_tls_security_level=may", "smtp_tls_loglevel=1",
            "in_flow_delay=0s", "alias_maps=", "alias_database=", "biff=no",
            "append_dot_mydomain=no", "smtpd_peername_lookup=no",
            "queue_run_delay=1s", "minimal_backoff_time=1s", "maximal_backoff_time=2s",
            f"maillog_file={self.dir / 'maillog'}", f"maillog_file_prefixes={self.dir}")
        cp = subprocess.run(["postfix", "-c", str(self.etc), "start"], capture_output=True,
                            text=True, timeout=60)
        if cp.returncode != 0:
            check = subprocess.run(["postfix", "-c", str(self.etc), "check"], capture_output=True,
                                   text=True, timeout=30)
            raise RuntimeError(f"postfix start failed: {cp.stderr} {check.stderr}")
        wait_until(self._listening, 10, interval=0.05, what=f"postfix smtpd on {self.port}")
        return self

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def maillog(self) -> str:
        p = self.dir / "maillog"
        return p.read_text(errors="replace") if p.exists() else ""

    def wait_sent(self, n: int, timeout: float = 30.0) -> list[str]:
        """The maillog's status=sent lines once there are n of them."""
        def sent():
            lines = [l for l in self.maillog().splitlines() if "status=sent" in l]
            return lines if len(lines) >= n else None
        try:
            return wait_until(sent, timeout, interval=0.1, what=f"{n} status=sent in Postfix's log")
        except TimeoutError:
            raise AssertionError("Postfix did not relay:\n" + self.maillog()[-3000:])

    def master_pid(self) -> int | None:
        p = self.queue / "pid" / "master.pid"
        try:
            return int(p.read_text().strip())
        except (OSError, ValueError):
            return None

    def stop(self):
        pid = self.master_pid()
        subprocess.run(["postfix", "-c", str(self.etc), "stop"], capture_output=True, timeout=60)
        if pid:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.05)
            else:
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.queue, ignore_errors=True)

    def __enter__(self) -> "PostfixRelay":
        return self.start()

    def __exit__(self, *exc):
        self.stop()

