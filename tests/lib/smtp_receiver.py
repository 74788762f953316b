"""smtp_receiver — real SMTP servers (Debian python3-aiosmtpd) on 127.0.0.x for delivery tests.

    with Receiver("127.0.0.2", port, rcpt_replies={"bad@d.test": "550 5.1.1 no such user"}) as r:
        ...
        r.wait_for(1)            # messages received (polled, bounded)

Each Receiver runs aiosmtpd's Controller (its own thread and event loop) and records what it
saw: connections, MAIL commands, and complete messages (sender, recipients, raw bytes as the
client sent them after dot-unstuffing, the MAIL/RCPT parameters). Behaviours for the cases
delivery must handle: per-recipient replies, a number of temporary failures before accepting,
dropping the connection at the end of DATA, STARTTLS with a given certificate, AUTH.
Only loopback addresses; servers are stopped by the context manager.
"""
from __future__ import annotations

import socket
import ssl
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class _Smtp(SMTP):
    """aiosmtpd answers 555 to MAIL FROM's AUTH= parameter (RFC 4954 §5) although it offers
    AUTH; a real relay accepts it. Record it and pass the rest on."""

    async def smtp_MAIL(self, arg):
        if arg:
            words = arg.split(" ")
            auth = [w for w in words if w.upper().startswith("AUTH=")]
            self.mail_auth_params.extend(auth)
            arg = " ".join(w for w in words if w not in auth)
        return await super().smtp_MAIL(arg)


class _Controller(Controller):
    def factory(self):
        server = _Smtp(self.handler, **self.SMTP_kwargs)
        server.mail_auth_params = self.mail_auth_params
        return server


def free_port_on(hosts) -> int:
    """A TCP port free on every address of `hosts` now."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind((hosts[0], 0))
            port = s.getsockname()[1]
        ok = True
        for h in hosts[1:]:
            with socket.socket() as t:
                try:
                    t.bind((h, port))
                except OSError:
                    ok = False
                    break
        if ok:
            return port
    raise RuntimeError("no common free port")


class Message:
    def __init__(self, sender, rcpts, data: bytes, mail_options, rcpt_options):
        self.sender = sender
        self.rcpts = rcpts
        self.data = data
        self.mail_options = mail_options
        self.rcpt_options = rcpt_options


class _Handler:
    def __init__(self, owner: "Receiver"):
        self.o = owner

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        with self.o.lock:
            self.o.ehlo_count += 1
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self.o.lock:
            self.o.mail_count += 1
            self.o.tls_on_mail.append(session.ssl is not None)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.o.lock:
            if self.o.tempfail_rcpts > 0:
                self.o.tempfail_rcpts -= 1
                return "450 4.2.0 mailbox busy, try later"
            reply = self.o.rcpt_replies.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.o.lock:
            if self.o.drop_in_data > 0:
                self.o.drop_in_data -= 1
                server.transport.close()  # the client sees the connection die after its dot
                return "451 4.3.0 not reached"
            self.o.messages.append(Message(envelope.mail_from, list(envelope.rcpt_tos),
                                           envelope.original_content or envelope.content,
                                           list(envelope.mail_options),
                                           list(envelope.rcpt_options)))
        return "250 2.0.0 OK: stored"


class Receiver:
    def __init__(self, host: str, port: int, *, rcpt_replies=None, tempfail_rcpts: int = 0,
                 drop_in_data: int = 0, tls_cert: tuple[str, str] | None = None,
                 auth: tuple[str, str] | None = None):
        self.host, self.port = host, port
        self.lock = threading.Lock()
        self.messages: list[Message] = []
        self.mail_count = 0
        self.ehlo_count = 0
        self.tls_on_mail: list[bool] = []
        self.auth_logins: list[str] = []
        self.rcpt_replies = {k.lower(): v for k, v in (rcpt_replies or {}).items()}
        self.tempfail_rcpts = tempfail_rcpts
        self.drop_in_data = drop_in_data
        kwargs = {}
        if tls_cert:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(*tls_cert)
            kwargs["tls_context"] = ctx
            kwargs["require_starttls"] = True
        if auth:
            def authenticator(server, session, envelope, mechanism, data):
                ok = isinstance(data, LoginPassword) and \
                    (data.login.decode(), data.password.decode()) == auth
                if ok:
                    with self.lock:
                        self.auth_logins.append(data.login.decode())
                return AuthResult(success=ok)
            kwargs.update(authenticator=authenticator, auth_required=True,
                          auth_require_tls=bool(tls_cert))
        self.controller = _Controller(_Handler(self), hostname=host, port=port,
                                      ready_timeout=10, **kwargs)
        self.mail_auth_params: list[str] = []
        self.controller.mail_auth_params = self.mail_auth_params

    def __enter__(self) -> "Receiver":
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()

    def wait_for(self, n: int, timeout: float = 30.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= n:
                    return list(self.messages)
            time.sleep(0.05)
        raise TimeoutError(f"{self.host}: {len(self.messages)} message(s), wanted {n}")
