// fuzz/spf_record.cpp — libFuzzer target for the SPF record parser, the macro expander and the
// evaluator (mailauth/spf/), which read TXT records from the network.
//
// The input is a TXT record text. It is parsed (parse_record), checked and expanded as a macro
// string in both modes, and then evaluated by check_host against a zone in which every TXT
// query returns that same text (so include and redirect recurse into it), every A/AAAA/MX/PTR
// query answers with fixed records, and names under "void." do not exist. Checked beyond
// memory safety: the evaluator never asks more questions than the RFC 7208 §4.6.4 limits
// allow, never reports `pending` when every answer is known, an explanation appears only with
// a fail, and an expanded domain-spec is never longer than 253 characters.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mailauth/spf/check_host.h"
#include "mailauth/spf/macro.h"
#include "mailauth/spf/record.h"

using namespace petrel;
using namespace petrel::mailauth::spf;

namespace {

class FuzzZone final : public Lookups {
public:
    explicit FuzzZone(std::string text) {
        dns::TxtRecord r;
        r.text = text;
        r.strings = {std::move(text)};
        txt_.records = {r};
        uint8_t v4[4] = {192, 0, 2, 1};
        uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        a_.records = {dns::IpAddress::v4_from(v4)};
        aaaa_.records = {dns::IpAddress::v6_from(v6)};
        mx_.records = {{10, "mx.example.com"}, {20, "void.example.com"}};
        ptr_.records = {{"host.example.com"}, {"other.example.org"}};
    }
    const dns::TxtAnswer* txt(const std::string& n) override { return pick(n, txt_); }
    const dns::AddressAnswer* a(const std::string& n) override { return pick(n, a_); }
    const dns::AddressAnswer* aaaa(const std::string& n) override { return pick(n, aaaa_); }
    const dns::MxAnswer* mx(const std::string& n) override { return pick(n, mx_); }
    const dns::PtrAnswer* ptr(const std::string& n) override { return pick(n, ptr_); }

    unsigned queries = 0;

private:
    template <class A>
    const A* pick(const std::string& name, const A& answer) {
        ++queries;
        if (name.rfind("void.", 0) == 0) return none<A>();
        return &answer;
    }
    template <class A>
    static const A* none() {
        static const A answer{dns::Status::NxDomain, {}, {}, false};
        return &answer;
    }
    dns::TxtAnswer txt_;
    dns::AddressAnswer a_, aaaa_;
    dns::MxAnswer mx_;
    dns::PtrAnswer ptr_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);

    ParsedRecord parsed = parse_record(text);
    if (parsed.record.has_value() == !parsed.error.empty()) __builtin_trap();

    MacroValues values;
    values.sender = "strong-bad@email.example.com";
    values.local_part = "strong-bad";
    values.sender_domain = "email.example.com";
    values.domain = "email.example.com";
    values.helo = "mx.example.org";
    values.validated_name = "mx.example.org";
    for (MacroMode mode : {MacroMode::Domain, MacroMode::Explanation}) {
        auto out = expand_macros(text, values, mode);
        if (out.has_value() != valid_macro_string(text, mode)) __builtin_trap();
    }
    if (valid_domain_spec(text)) {
        auto name = expand_domain_spec(text, values);
        if (!name) __builtin_trap();
        if (name->size() > 253 && name->find('.') != std::string::npos) __builtin_trap();
    }

    for (bool v6 : {false, true}) {
        FuzzZone zone(text);
        Request request;
        uint8_t v4[4] = {192, 0, 2, 1};
        uint8_t six[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        request.ip = v6 ? dns::IpAddress::v6_from(six) : dns::IpAddress::v4_from(v4);
        request.sender = "user@example.com";
        request.helo = "mx.example.org";
        Outcome out = check_mail_from(zone, request);
        if (out.pending) __builtin_trap();
        if (!out.explanation.empty() && out.result != Result::Fail) __builtin_trap();
        // 1 + 10 terms × (1 MX + 10 hosts) + PTR validation (1 + 10) + exp (1): a loose bound.
        if (zone.queries > 200) __builtin_trap();
    }
    return 0;
}
