// fuzz/dkim_header.cpp — libFuzzer target for DKIM's parsers of hostile bytes: the message
// header parser (mailauth/header_parser.h), tag lists (RFC 6376 §3.2), DKIM-Signature and key
// record parsing, header and body canonicalization (§3.4), and the whole verifier with a fake
// key lookup (a fixed Ed25519 key record plus the input's first line as a second record).
//
// Checked beyond memory safety: a relaxed header is "name:value\r\n" with no other CR/LF; a
// canonical body is empty or ends with CRLF and never ends with an empty line; the l= limited
// canonical body is a prefix of the whole; raw fields tile the header section exactly.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mailauth/dkim/canonicalize.h"
#include "mailauth/dkim/key_record.h"
#include "mailauth/dkim/signature.h"
#include "mailauth/dkim/verifier.h"
#include "mailauth/header_parser.h"

using namespace petrel::mailauth;
using namespace petrel::mailauth::dkim;

namespace {

void check(bool ok) {
    if (!ok) std::abort();
}

void check_body(std::string_view body, Canon c) {
    std::string whole = canonical_body(body, c);
    check(whole.empty() || whole.size() >= 2);
    if (!whole.empty()) {
        check(whole.compare(whole.size() - 2, 2, "\r\n") == 0);
        check(whole == "\r\n" || whole.size() < 4 || whole.compare(whole.size() - 4, 4, "\r\n\r\n") != 0);
    }
    uint64_t limit = body.size() / 2;
    std::string part;
    canonicalize_body(body, c, [&](std::string_view s) { part.append(s); }, limit);
    check(part == whole.substr(0, std::min<size_t>(limit, whole.size())));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view in(reinterpret_cast<const char*>(data), size);
    std::string error;
    std::string first_line(in.substr(0, in.find('\n')));
    std::string key_error;
    (void)parse_key_record(first_line, key_error);
    (void)parse_tag_list(in);

    auto msg = parse_message(in, error);
    if (msg) {
        size_t covered = 0;
        for (const HeaderField& f : msg->fields) {
            check(f.raw.data() == in.data() + covered);  // fields tile the header section
            covered += f.raw.size();
            std::string relaxed = canonicalize_header(f, Canon::Relaxed);
            check(relaxed.find("\r\n") == relaxed.size() - 2);
            check(relaxed.find('\n') == relaxed.size() - 1);
            check(canonicalize_header(f, Canon::Simple) == f.raw);
            (void)parse_tag_list(f.value);
            if (iequals(f.name, "DKIM-Signature")) (void)parse_signature(f, error);
        }
        check_body(msg->body, Canon::Simple);
        check_body(msg->body, Canon::Relaxed);
    }

    KeyFetcher fetch = [&](const std::string&) {
        KeyLookup l;
        l.records = {"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", first_line};
        return l;
    };
    VerifyOptions options;
    options.now = 1528637909;
    VerifyReport r = verify(in, fetch, options);
    check(r.message_ok == msg.has_value());
    return 0;
}
