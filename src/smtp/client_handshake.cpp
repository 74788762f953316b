// smtp/client_handshake.cpp — greeting, EHLO with the HELO fallback, STARTTLS and AUTH of the
// client session. RFC 5321 §3.1, §4.1.1.1 (HELO when EHLO is refused with 5xx, §4.1.4),
// RFC 3207 §4 (STARTTLS; §4.2 EHLO again after the handshake), RFC 4954 §4 (AUTH with an
// initial response), RFC 4616 (PLAIN), LOGIN (draft-murchison-sasl-login). Failures of TLS or
// AUTH are temporary, never a bounce: as Postfix's smtp_sasl_auth_soft_bounce and TLS
// "encrypt" level, the mail waits rather than goes in clear or to the wrong place.
#include "base/escape.h"
#include "smtp/client_impl.h"
#include "smtp/sasl.h"

namespace petrel::smtp {

void ClientSession::Impl::send_ehlo() { write("EHLO " + cfg.helo_name, {Expect::Ehlo}); }

void ClientSession::Impl::on_handshake_reply(const Expected& e, const Reply& r) {
    const std::string stage = stage_of(e.what);
    switch (e.what) {
        case Expect::Greeting:
            out->greeting = r;
            if (r.code != 220) {
                // RFC 5321 §3.1: a 554 greeting means no service; say QUIT and go.
                fail(r, true, stage, r.permanent(), true);
                return;
            }
            send_ehlo();
            return;
        case Expect::Ehlo:
            if (r.positive()) {
                caps = parse_capabilities(r);
                out->capabilities = caps;
                after_ehlo();
            } else if (r.permanent()) {
                write("HELO " + cfg.helo_name, {Expect::Helo});  // §4.1.4: an old server
            } else {
                fail(r, true, stage, false, true);
            }
            return;
        case Expect::Helo:
            if (!r.positive()) {
                fail(r, true, stage, r.permanent(), true);
                return;
            }
            caps = Capabilities{};
            out->capabilities = caps;
            after_ehlo();
            return;
        case Expect::StartTls:
            if (r.code == 220) {
                phase = Phase::TlsWait;
                out->action = ClientAction::StartTls;
                return;
            }
            if (cfg.tls == TlsMode::Required) {
                fail(r, true, stage, false, true);
                return;
            }
            event("tls", "STARTTLS refused; continuing in clear (opportunistic)");
            after_tls_decision();
            return;
        case Expect::AuthPlain:
        case Expect::AuthLoginDone:
            if (r.code == 235) {
                authed = true;
                event("protocol", "authenticated");
                become_ready();
            } else {
                fail(r, true, stage, false, true);
            }
            return;
        case Expect::AuthLoginUser:
            if (r.code != 334) {
                fail(r, true, stage, false, true);
                return;
            }
            write(base64_encode(cfg.credentials->username), {Expect::AuthLoginPass}, "<username>");
            return;
        case Expect::AuthLoginPass:
            if (r.code != 334) {
                fail(r, true, stage, false, true);
                return;
            }
            write(base64_encode(cfg.credentials->password), {Expect::AuthLoginDone}, "<password>");
            return;
        default:
            return;
    }
}

void ClientSession::Impl::after_ehlo() {
    if (!tls_on && cfg.tls != TlsMode::None) {
        if (caps.starttls) {
            write("STARTTLS", {Expect::StartTls});
            return;
        }
        if (cfg.tls == TlsMode::Required) {
            // Postfix's wording and status (4.7.4): deferred, nothing sent in clear.
            fail(Reply(451, "4.7.4", "TLS is required, but was not offered by host"), false, "STARTTLS", false, true);
            return;
        }
    }
    after_tls_decision();
}

void ClientSession::Impl::after_tls_decision() {
    if (!cfg.credentials || authed) {
        become_ready();
        return;
    }
    if (cfg.auth_requires_tls && !tls_on) {
        fail(Reply(451, "4.7.0", "TLS is required for authentication, but is not active"), false, "AUTH", false, true);
        return;
    }
    const ClientCredentials& c = *cfg.credentials;
    if (caps.has_auth("PLAIN")) {
        // RFC 4616 §2: authzid NUL authcid NUL passwd, with an empty authzid.
        std::string msg;
        msg += '\0';
        msg += c.username;
        msg += '\0';
        msg += c.password;
        write("AUTH PLAIN " + base64_encode(msg), {Expect::AuthPlain}, "AUTH PLAIN <credentials>");
    } else if (caps.has_auth("LOGIN")) {
        write("AUTH LOGIN", {Expect::AuthLoginUser});
    } else {
        fail(Reply(451, "4.7.0", "server offered no supported authentication mechanism (PLAIN, LOGIN)"), false, "AUTH",
             false, true);
    }
}

void ClientSession::Impl::become_ready() {
    phase = Phase::Ready;
    if (txn) {
        start_txn();
        return;
    }
    if (quit_requested) {
        phase = Phase::Quit;
        write("QUIT", {Expect::Quit});
    }
}

}  // namespace petrel::smtp
