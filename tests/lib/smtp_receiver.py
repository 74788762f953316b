"""smtp_receiver — real SMTP servers (Debian python3-aiosmtpd) on 127.0.0.x for delivery tests.

    with Receiver("127.0.0.2", port, rcpt_replies={"bad@d.test": "550 5.1.1 no such user"}) as r:
        ...
        r.wait_for(1)            # messages received (polled, bounded)

Each Receiver runs aiosmtpd's Controller (its own thread and event loop) and records what it
saw: connections, MAIL commands, and complete messages (sender, recipients, raw bytes as the
client sent them after dot-unstuffing, the MAIL/RCPT parameters, the session they came on).
Sessions are counted from the client's first EHLO/HELO (so aiosmtpd's own readiness probe, which
only reads the greeting, is not one): `sessions`, `max_active` (most at once), `quits`, and
`events` [(monotonic time, session number, "open"|"quit"|"close")]. Behaviours for the cases
delivery must handle: per-recipient replies, a number of temporary failures before accepting,
dropping the connection at the end of DATA, a slow DATA reply (`data_delay`), STARTTLS or
implicit TLS with a given certificate, AUTH.
Only loopback addresses (127.0.0.x or ::1); servers are stopped by the context manager.
"""
from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def _split_params(arg: str, names: tuple[str, ...]) -> tuple[str, list[str]]:
    """(arg without the NAME=value words in `names`, those words)."""
    words = arg.split(" ")
    taken = [w for w in words if w.upper().startswith(names)]
    return " ".join(w for w in words if w not in taken), taken


class _Smtp(SMTP):
    """aiosmtpd answers 555 to MAIL FROM's AUTH= parameter (RFC 4954 §5) although it offers
    AUTH; a real relay accepts it. Record it and pass the rest on. With the receiver's `dsn`
    the same is done for the DSN parameters (RFC 3461: RET, ENVID on MAIL; NOTIFY, ORCPT on
    RCPT), which land in Message.mail_options / rcpt_options."""

    async def smtp_MAIL(self, arg):
        if arg:
            arg, auth = _split_params(arg, ("AUTH=",))
            self.mail_auth_params.extend(auth)
            if self.receiver.dsn:
                arg, dsn = _split_params(arg, ("RET=", "ENVID="))
                self.envelope.mail_options.extend(dsn)
        return await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg):
        if arg and self.receiver.dsn:
            arg, dsn = _split_params(arg, ("NOTIFY=", "ORCPT="))
            self.envelope.rcpt_options.extend(dsn)
        return await super().smtp_RCPT(arg)

    async def smtp_QUIT(self, arg):
        self.receiver._session_event(self, "quit")
        return await super().smtp_QUIT(arg)

    def _timeout_cb(self):
        # idle_close: aiosmtpd closes silently; with idle_close_reply the server says why first
        # (as Postfix does: "421 4.4.2 ... Error: timeout exceeded").
        if self.receiver.idle_close_reply and self.transport is not None:
            self.transport.write(self.receiver.idle_close_reply.encode() + b"\r\n")
        super()._timeout_cb()

    def connection_lost(self, error):
        self.receiver._session_event(self, "close")
        super().connection_lost(error)


class _Controller(Controller):
    def factory(self):
        server = _Smtp(self.handler, **self.SMTP_kwargs)
        server.mail_auth_params = self.mail_auth_params
        server.receiver = self.receiver
        server.session_no = 0  # set at its first EHLO/HELO
        return server


def free_port_on(hosts) -> int:
    """A TCP port free on every address of `hosts` (IPv4 or IPv6 literals) now."""
    def family(h):
        return socket.AF_INET6 if ":" in h else socket.AF_INET
    for _ in range(100):
        with socket.socket(family(hosts[0])) as s:
            s.bind((hosts[0], 0))
            port = s.getsockname()[1]
        ok = True
        for h in hosts[1:]:
            with socket.socket(family(h)) as t:
                try:
                    t.bind((h, port))
                except OSError:
                    ok = False
                    break
        if ok:
            return port
    raise RuntimeError("no common free port")


class Message:
    def __init__(self, sender, rcpts, data: bytes, mail_options, rcpt_options, session_no=0):
        self.session_no = session_no  # which session (1, 2, ...) carried it
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
        self.o._session_event(server, "open")
        if self.o.dsn:
            responses.insert(-1, "250-DSN")
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        session.host_name = hostname
        self.o._session_event(server, "open")
        return "250 " + server.hostname

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self.o.lock:
            self.o.mail_count += 1
            self.o.tls_on_mail.append(session.ssl is not None or
                                      server.transport.get_extra_info("ssl_object") is not None)
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
        if self.o.data_delay:
            await asyncio.sleep(self.o.data_delay)
        with self.o.lock:
            if self.o.drop_in_data > 0:
                self.o.drop_in_data -= 1
                server.transport.close()  # the client sees the connection die after its dot
                return "451 4.3.0 not reached"
            self.o.messages.append(Message(envelope.mail_from, list(envelope.rcpt_tos),
                                           envelope.original_content or envelope.content,
                                           list(envelope.mail_options),
                                           list(envelope.rcpt_options), server.session_no))
        return "250 2.0.0 OK: stored"


class Receiver:
    def __init__(self, host: str, port: int, *, rcpt_replies=None, tempfail_rcpts: int = 0,
                 drop_in_data: int = 0, tls_cert: tuple[str, str] | None = None,
                 implicit_tls: bool = False, data_delay: float = 0.0,
                 idle_close: float = 0.0, idle_close_reply: str | None = None,
                 dsn: bool = False, auth: tuple[str, str] | None = None):
        """tls_cert: STARTTLS required with that (cert, key), or with implicit_tls TLS from the
        first byte (RFC 8314). data_delay: seconds before the reply to the end of DATA.
        idle_close: close a connection idle that long (seconds), after sending
        idle_close_reply (e.g. "421 4.4.2 timeout") when given. dsn: offer DSN (RFC 3461) and
        accept its parameters."""
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
        self.data_delay = data_delay
        self.idle_close_reply = idle_close_reply
        self.dsn = dsn
        self.sessions = 0
        self.active = 0
        self.max_active = 0
        self.quits = 0
        self.events: list[tuple[float, int, str]] = []
        kwargs, server_ssl = {}, None
        if idle_close:
            kwargs["timeout"] = idle_close
        if tls_cert:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(*tls_cert)
            if implicit_tls:
                server_ssl = ctx
            else:
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
                          # aiosmtpd counts only STARTTLS as TLS; implicit TLS is TLS too
                          auth_require_tls=bool(tls_cert) and not implicit_tls)
        self.controller = _Controller(_Handler(self), hostname=host, port=port,
                                      ready_timeout=10, ssl_context=server_ssl, **kwargs)
        self.mail_auth_params: list[str] = []
        self.controller.mail_auth_params = self.mail_auth_params
        self.controller.receiver = self

    def _session_event(self, server, kind: str):
        """open (first EHLO/HELO of a connection), quit, close (of a counted session)."""
        with self.lock:
            if kind == "open":
                if server.session_no:
                    return  # the EHLO after STARTTLS: same session
                self.sessions += 1
                server.session_no = self.sessions
                self.active += 1
                self.max_active = max(self.max_active, self.active)
            elif not server.session_no:
                return  # the readiness probe, or a client that never said EHLO
            elif kind == "quit":
                self.quits += 1
            elif kind == "close":
                self.active -= 1
            self.events.append((time.monotonic(), server.session_no, kind))

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
