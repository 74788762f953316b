// fuzz/smtp_client.cpp — libFuzzer target for smtp::ClientSession (the outbound protocol core):
// hostile server bytes against petrel as the client.
//
// Input layout: byte 0 selects the client configuration (TLS mode, implicit TLS, credentials,
// small limits), byte 1 seeds how the rest is cut into feed() calls, byte 2 the transaction
// (body type, SMTPUTF8, DSN parameters, number of recipients); the rest is the server's byte
// stream. Actions are resolved at once (tls_established, continue_body); a new transaction is
// sent whenever the session is ready, up to three, then QUIT; at the end a timeout.
// Checked beyond memory safety: what the client writes outside BDAT chunks has CRLF line ends
// only, every transaction result names every recipient once, a failure closes the session,
// and continue_body never loops.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "smtp/client_session.h"

using namespace petrel;

namespace {

smtp::ClientConfig make_config(uint8_t f) {
    smtp::ClientConfig c;
    c.helo_name = "client.fuzz.test";
    c.tls = static_cast<smtp::TlsMode>(f % 3);
    c.implicit_tls = f & 4;
    if (f & 8) c.credentials = smtp::ClientCredentials{"user", "pass"};
    c.auth_requires_tls = f & 16;
    if (f & 32) {
        c.limits.reply.max_line = 64;
        c.limits.reply.max_lines = 4;
        c.limits.max_pending_input = 256;
        c.limits.body_slice = 5;
    }
    return c;
}

smtp::ClientTransaction make_txn(uint8_t f, int n) {
    smtp::ClientTransaction t;
    if (!(f & 1)) t.envelope.sender = mail::Mailbox{"a" + std::to_string(n), "b.test"};
    t.envelope.params.body = static_cast<mail::BodyType>((f >> 1) % 3);
    t.envelope.params.smtputf8 = f & 8;
    t.envelope.params.ret = static_cast<mail::DsnRet>((f >> 4) % 3);
    t.envelope.params.envid = (f & 64) ? "env id+=" : "";
    const int rcpts = 1 + (f >> 6) % 3;
    for (int i = 0; i < rcpts; ++i) {
        mail::Recipient r;
        r.mailbox = mail::Mailbox{"r" + std::to_string(i), "d.test"};
        r.notify.specified = i == 1;
        r.notify.success = i == 1;
        r.orcpt = i == 2 ? "rfc822;R@d.test" : "";
        t.envelope.recipients.push_back(r);
    }
    t.message = std::make_shared<smtp::StringSource>(".dot\nbare LF\rbare CR\r\n.\r\nend");
    return t;
}

struct Driver {
    smtp::ClientSession& s;
    uint8_t txn_flags;
    bool bdat = false;
    int sent = 0;
    size_t expected_rcpts = 0;

    void check_wire(const std::string& w) {
        if (bdat) return;  // BDAT chunks carry the stored bytes as they are
        for (size_t i = 0; i < w.size(); ++i) {
            if (w[i] == '\n' && (i == 0 || w[i - 1] != '\r')) __builtin_trap();
            if (w[i] == '\r' && (i + 1 >= w.size() || w[i + 1] != '\n')) __builtin_trap();
        }
    }

    void handle(smtp::ClientOutput o) {
        for (int guard = 0;; ++guard) {
            if (guard > 10000) __builtin_trap();
            check_wire(o.wire);
            if (o.result && o.result->recipients.size() != expected_rcpts) __builtin_trap();
            if (o.result)
                for (size_t i = 0; i < o.result->recipients.size(); ++i)
                    if (o.result->recipients[i].index != i) __builtin_trap();
            if (o.failure && !s.closed()) __builtin_trap();
            switch (o.action) {
                case smtp::ClientAction::StartTls:
                    o = s.tls_established();
                    continue;
                case smtp::ClientAction::SendBody:
                    o = s.continue_body();
                    continue;
                case smtp::ClientAction::Close:
                    if (!s.closed()) __builtin_trap();
                    return;
                case smtp::ClientAction::None:
                    break;
            }
            if (s.ready()) {
                if (sent < 3) {
                    smtp::ClientTransaction t = make_txn(static_cast<uint8_t>(txn_flags + sent), sent);
                    expected_rcpts = t.envelope.recipients.size();
                    bdat = t.envelope.params.body == mail::BodyType::BinaryMime;
                    ++sent;
                    o = s.send(std::move(t));
                    continue;
                }
                o = s.quit();
                continue;
            }
            return;
        }
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 3) return 0;
    smtp::ClientSession s(make_config(data[0]));
    Driver d{s, data[2]};
    {
        smtp::ClientTransaction t = make_txn(data[2], 0);
        d.expected_rcpts = t.envelope.recipients.size();
        d.bdat = t.envelope.params.body == mail::BodyType::BinaryMime;
        d.sent = 1;
        d.handle(s.send(std::move(t)));
    }
    std::string_view stream(reinterpret_cast<const char*>(data + 3), size - 3);
    size_t pos = 0;
    uint32_t x = data[1] | 1u;
    while (pos < stream.size() && !s.closed()) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        const size_t n = 1 + x % 29;
        d.handle(s.feed(stream.substr(pos, n)));
        pos += n;
    }
    (void)s.read_timeout();
    d.handle(s.timeout());
    if (!s.closed()) __builtin_trap();
    return 0;
}
