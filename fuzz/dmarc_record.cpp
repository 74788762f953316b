// fuzz/dmarc_record.cpp — libFuzzer target for the DMARC record parser and the From-field
// author-domain parser (mailauth/dmarc/), which read TXT records and message headers from the
// network.
//
// The input is used three ways: as a TXT record text (is_dmarc_record, parse_record), as the
// record served at _dmarc.<author> to evaluate() with and without an aligned DKIM pass, and as
// the value of a From field given to author_domain(). Checked beyond memory safety: a parsed
// record was recognised as DMARC, stays within its bounds (pct ≤ 100, at most kMaxReportUris
// URIs), defaults p= only with a rua=; evaluation gives pass exactly when something aligned,
// a disposition only on fail, and never a stricter disposition than the policy; an author
// domain and an error never come together.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mailauth/dmarc/dmarc.h"

using namespace petrel;
using namespace petrel::mailauth::dmarc;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);

    std::string error;
    auto record = parse_record(text, error);
    if (record.has_value() == !error.empty()) __builtin_trap();
    if (record) {
        if (!is_dmarc_record(text)) __builtin_trap();
        if (record->percent > 100) __builtin_trap();
        if (record->rua.size() > kMaxReportUris || record->ruf.size() > kMaxReportUris) __builtin_trap();
        if (record->policy_defaulted && record->rua.empty()) __builtin_trap();
    }

    dns::TxtAnswer answer;
    answer.status = dns::Status::Ok;
    answer.records.push_back(dns::TxtRecord{text, {text}});
    for (bool dkim : {false, true}) {
        Inputs in;
        in.from_domain = "mail.example.com";
        if (dkim) in.dkim.push_back({"example.com"});
        Evaluation ev = evaluate(in, {{"mail.example.com", answer}}, static_cast<unsigned>(size % 100));
        if ((ev.result == Result::Pass) != (ev.dkim_aligned || ev.spf_aligned)) __builtin_trap();
        if (ev.result != Result::Fail && ev.disposition != Policy::None) __builtin_trap();
        if (static_cast<int>(ev.disposition) > static_cast<int>(ev.policy)) __builtin_trap();
        // A usable record with relaxed DKIM alignment: d=example.com aligns with the author.
        if (record && dkim && record->dkim_alignment == Alignment::Relaxed && ev.result != Result::Pass) __builtin_trap();
    }

    AuthorDomain author = author_domain("From:" + text + "\r\n\r\n");
    if (author.domain.empty() == author.error.empty()) __builtin_trap();
    return 0;
}
