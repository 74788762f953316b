// mailauth/dmarc/record.h — parser of a DMARC policy record (the TXT text at _dmarc.<domain>).
//
// Trust: the text is hostile DNS data of any bytes. Work is bounded by `kMaxRecordLength`
// (longer texts are refused) and by the number of tags that fits in it; nothing is copied
// except the values kept. No I/O.
// RFC 7489 §6.3 (general record format: "v=DMARC1" first, tag-value pairs separated by ";",
// unknown tags ignored, syntax errors in tags other than v and p fall back to defaults),
// §6.4 (formal definition), §6.6.3 step 6 (an invalid p= or sp= with a valid rua= acts as
// p=none).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace petrel::mailauth::dmarc {

enum class Policy { None, Quarantine, Reject };
const char* to_string(Policy);  // "none","quarantine","reject"

enum class Alignment { Relaxed, Strict };  // adkim= / aspf= "r" / "s"
const char* to_string(Alignment);          // "r","s"

constexpr size_t kMaxRecordLength = 4096;  // far above real records (a few hundred octets)
constexpr size_t kMaxReportUris = 16;      // rua=/ruf= entries kept

struct Record {
    Policy policy = Policy::None;            // p=
    Policy subdomain_policy = Policy::None;  // sp= (p= when absent)
    bool has_subdomain_policy = false;       // sp= was given and valid
    // True when p= (or sp=) was missing or invalid and the record was kept only because a
    // valid rua= was present: the record acts as "p=none" (§6.6.3 step 6.1).
    bool policy_defaulted = false;
    unsigned percent = 100;                  // pct= 0..100
    Alignment dkim_alignment = Alignment::Relaxed;  // adkim=
    Alignment spf_alignment = Alignment::Relaxed;   // aspf=
    std::vector<std::string> rua;            // aggregate report URIs, as written (kept, not used)
    std::vector<std::string> ruf;            // failure report URIs
    std::string failure_options = "0";       // fo= ("0", "1", "d", "s", colon-separated)
    std::string report_format = "afrf";      // rf=
    unsigned long report_interval = 86400;   // ri= seconds
    std::vector<std::string> warnings;       // tags ignored or defaulted, for logs
};

// Does `text` start with the DMARC version tag ("v" *WSP "=" *WSP "DMARC1", then the end, or
// *WSP ";")? Texts that do not are not DMARC records and discovery discards them (§6.6.3).
bool is_dmarc_record(std::string_view text);

// Parses a record that is_dmarc_record() accepted. nullopt with `error` set when the record is
// unusable: longer than kMaxRecordLength, malformed tag list, or p= missing or invalid (or
// sp= invalid) without a syntactically valid rua= URI (§6.6.3 step 6.2).
std::optional<Record> parse_record(std::string_view text, std::string& error);

}  // namespace petrel::mailauth::dmarc
