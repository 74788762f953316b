// mailauth/spf/record.h — an SPF record parsed into its terms (RFC 7208 §4.5, §4.6, §5, §6).
//
// Trust: the text is a TXT record from the network, any bytes. The parser checks the whole
// record against the ABNF of RFC 7208 §12 before anything is evaluated, since §4.6 says a
// syntax error anywhere makes the result "permerror" without further interpretation. Errors
// are values (ParsedRecord::error), never exceptions. Macro strings are checked here and
// expanded later (macro.h), because their values depend on the evaluation.
// RFCs: 7208 §4.5 (record selection), §4.6.1 (term syntax), §5 (mechanisms), §6 (modifiers).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "dns/records.h"

namespace petrel::mailauth::spf {

// The results of RFC 7208 §2.6, in the order the RFC lists them.
enum class Result : uint8_t { None, Neutral, Pass, Fail, SoftFail, TempError, PermError };
const char* to_string(Result result);  // "none", "neutral", "pass", ... (RFC 7208 §2.6)

enum class Qualifier : uint8_t { Pass, Fail, SoftFail, Neutral };  // + - ~ ? (§4.6.2)
Result result_of(Qualifier qualifier);

enum class MechanismKind : uint8_t { All, Include, A, Mx, Ptr, Ip4, Ip6, Exists };
const char* to_string(MechanismKind kind);

struct Mechanism {
    Qualifier qualifier = Qualifier::Pass;
    MechanismKind kind = MechanismKind::All;
    std::string domain_spec;   // a checked macro string; empty: the current domain (a, mx, ptr)
    uint8_t cidr4 = 32;        // a, mx, ip4
    uint8_t cidr6 = 128;       // a, mx, ip6
    dns::IpAddress network;    // ip4, ip6
    std::string text;          // the term as written, for diagnostics
};

struct Record {
    std::vector<Mechanism> mechanisms;
    std::optional<std::string> redirect;     // domain-spec (§6.1)
    std::optional<std::string> explanation;  // exp= domain-spec (§6.2)
};

struct ParsedRecord {
    std::optional<Record> record;  // set when the record is well-formed
    std::string error;             // why not, naming the term
};

// §4.5: a record is an SPF record when it starts with "v=spf1" (any case) followed by a space
// or the end of the text.
bool is_spf_record(std::string_view text);

// Parses a record that `is_spf_record` accepted. Limits: a TXT record's text is bounded by the
// DNS message (64 KiB); each term is parsed in linear time.
ParsedRecord parse_record(std::string_view text);

// Address parsing shared with the evaluator and the CLI: dotted quad without leading zeros
// (RFC 7208 §5.6 ip4-network) and RFC 4291 §2.2 text (inet_pton).
std::optional<dns::IpAddress> parse_ip4(std::string_view text);
std::optional<dns::IpAddress> parse_ip6(std::string_view text);

}  // namespace petrel::mailauth::spf
