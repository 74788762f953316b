// fuzz/address.cpp — libFuzzer target for the path, domain, xtext and ESMTP-parameter parsers
// (mail/address.h, mail/domain.h, mail/xtext.h, mail/esmtp_params.h) and the Received builder.
//
// Byte 0 selects the options (null allowed, SMTPUTF8, Postmaster); the rest is a MAIL/RCPT
// argument after "FROM:"/"TO:". Checked beyond memory safety: the limits of RFC 5321
// §4.5.3.1 hold for whatever is accepted, and a Received header never contains a bare CR/LF.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mail/address.h"
#include "mail/domain.h"
#include "mail/esmtp_params.h"
#include "mail/received.h"
#include "mail/xtext.h"

using namespace petrel::mail;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    PathOptions o;
    o.allow_null = data[0] & 1;
    o.allow_utf8 = data[0] & 2;
    o.allow_postmaster = data[0] & 4;
    std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

    const PathResult r = parse_path(in, o);
    if (r.ok()) {
        if (r.consumed > kMaxPathLength || r.consumed > in.size()) __builtin_trap();
        if (r.path.mailbox) {
            const Mailbox& m = *r.path.mailbox;
            if (m.local.size() > kMaxLocalPartLength || m.domain.size() > kMaxDomainLength) __builtin_trap();
            if (!r.path.bare_postmaster && m.domain.empty()) __builtin_trap();
            if (!m.is_address_literal())
                for (unsigned char c : m.domain)
                    if (c >= 0x80 || (c >= 'A' && c <= 'Z')) __builtin_trap();  // normalized
            if (!o.allow_utf8)
                for (unsigned char c : m.local)
                    if (c >= 0x80) __builtin_trap();
            // A recipient in a Received header must not break it.
            Envelope e;
            e.facts.helo = std::string(in.substr(0, 80));
            e.facts.esmtp = true;
            e.recipients.push_back(Recipient{m, {}, {}});
            const std::string h = build_received(e, "mx.fuzz.test", "id", 0);
            for (size_t i = 0; i < h.size(); ++i) {
                if (h[i] == '\n' && (i == 0 || h[i - 1] != '\r')) __builtin_trap();
                if (h[i] == '\r' && (i + 1 >= h.size() || h[i + 1] != '\n')) __builtin_trap();
            }
        } else if (!o.allow_null) {
            __builtin_trap();
        }
        (void)parse_esmtp_params(in.substr(r.consumed), o.allow_utf8);
    }
    (void)parse_esmtp_params(in, o.allow_utf8);
    if (auto d = xtext_decode(in)) {
        if (xtext_decode(xtext_encode(*d)) != *d) __builtin_trap();
    }
    (void)normalize_domain(in.substr(0, 300), o.allow_utf8);
    (void)normalize_address_literal(in.substr(0, 100));
    return 0;
}
