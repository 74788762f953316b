// fuzz/smtp_session.cpp — libFuzzer target for smtp::ServerSession (the inbound protocol core).
//
// Input layout: byte 0 selects the listener configuration (TLS/AUTH flags, small limits so
// that they are reached), byte 1 seeds how the rest is cut into feed() calls; the rest is the
// client's byte stream. Every action is resolved at once: tls_established, auth_result with
// verdicts in turn (Ok, Failed, TemporaryFail, Throttled), commit_result ok or failed in turn.
// Checked beyond memory safety: the output is well-formed replies only, and (when STARTTLS is
// not involved, whose outcome legitimately depends on segmentation) feeding the stream whole
// and in chunks gives the same transcript.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "smtp/server_session.h"

using namespace petrel;

namespace {

struct Run {
    std::string transcript;
    bool tls_involved = false;
};

void check_wire(const std::string& wire) {
    size_t pos = 0;
    while (pos < wire.size()) {
        const size_t e = wire.find("\r\n", pos);
        if (e == std::string::npos || e - pos < 3) __builtin_trap();
        for (size_t i = pos; i < pos + 3; ++i)
            if (wire[i] < '0' || wire[i] > '9') __builtin_trap();
        for (size_t i = pos; i < e; ++i)
            if (wire[i] == '\r' || wire[i] == '\n') __builtin_trap();
        pos = e + 2;
    }
}

struct Driver {
    smtp::ServerSession& s;
    Run& run;
    unsigned auth_turn = 0;
    unsigned commit_turn = 0;

    void handle(smtp::Output o, int depth = 0) {
        check_wire(o.wire);
        run.transcript += o.wire;
        if (depth > 4) __builtin_trap();  // resolution must not loop
        switch (o.action) {
            case smtp::Action::None:
                break;
            case smtp::Action::StartTls:
                run.tls_involved = true;
                run.transcript += "[TLS]";
                handle(s.tls_established(smtp::TlsInfo{"TLSv1.3", "TLS_AES_128_GCM_SHA256"}), depth + 1);
                break;
            case smtp::Action::Authenticate: {
                if (!o.auth) __builtin_trap();
                static const smtp::AuthVerdict verdicts[] = {smtp::AuthVerdict::Ok, smtp::AuthVerdict::Failed,
                                                             smtp::AuthVerdict::TemporaryFail,
                                                             smtp::AuthVerdict::Throttled};
                run.transcript += "[AUTH]";
                handle(s.auth_result(verdicts[auth_turn++ % 4]), depth + 1);
                break;
            }
            case smtp::Action::Commit: {
                if (!o.message || o.message->envelope.recipients.empty()) __builtin_trap();
                run.transcript += "[COMMIT " + std::to_string(o.message->body.size()) + "]";
                smtp::CommitResult r;
                r.ok = (commit_turn++ % 3) != 2;
                if (r.ok) r.queue_id = "q" + std::to_string(commit_turn);
                handle(s.commit_result(r), depth + 1);
                break;
            }
            case smtp::Action::Close:
                run.transcript += "[CLOSE]";
                if (!s.closed()) __builtin_trap();
                break;
        }
    }
};

smtp::SessionConfig make_config(uint8_t flags) {
    smtp::SessionConfig c;
    c.hostname = "mx.fuzz.test";
    c.tls_available = flags & 1;
    c.tls_active = flags & 2;
    c.auth_enabled = flags & 4;
    c.auth_requires_tls = flags & 8;
    c.require_auth = flags & 16;
    c.require_tls = flags & 32;
    if (flags & 64) {
        c.limits.max_command_line = 64;
        c.limits.max_auth_line = 128;
        c.limits.max_data_line = 40;
        c.limits.max_message_size = 300;
        c.limits.max_recipients = 3;
        c.limits.max_errors = 5;
    } else {
        c.limits.max_errors = 1000;
    }
    return c;
}

Run run_session(uint8_t flags, std::string_view stream, uint32_t seed, bool whole) {
    smtp::AcceptAllPolicy policy;
    mail::SessionFacts facts;
    facts.client_ip = "192.0.2.1";
    smtp::ServerSession s(make_config(flags), policy, facts);
    Run run;
    Driver d{s, run};
    d.handle(s.start());
    if (whole) {
        d.handle(s.feed(stream));
    } else {
        size_t pos = 0;
        uint32_t x = seed | 1;
        while (pos < stream.size() && !s.closed()) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            const size_t n = 1 + x % 17;
            d.handle(s.feed(stream.substr(pos, n)));
            pos += n;
        }
    }
    (void)s.read_timeout();
    d.handle(s.timeout());
    if (!s.closed()) __builtin_trap();
    return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    const uint8_t flags = data[0];
    const uint32_t seed = data[1];
    std::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);
    const Run whole = run_session(flags, stream, seed, true);
    const Run chunked = run_session(flags, stream, seed, false);
    if (!whole.tls_involved && !chunked.tls_involved &&
        whole.transcript.find("after STARTTLS") == std::string::npos &&
        chunked.transcript.find("after STARTTLS") == std::string::npos && whole.transcript != chunked.transcript)
        __builtin_trap();
    return 0;
}
