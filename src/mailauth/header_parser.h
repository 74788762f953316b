// mailauth/header_parser.h — a message's header fields as DKIM, SPF, DMARC and ARC read them.
//
// Trust: the message is hostile bytes from the network. The parser never copies and never
// normalizes: each field keeps its raw bytes exactly (name, colon, folded value, final CRLF), as
// DKIM's "simple" canonicalization needs (RFC 6376 §3.4.1). Lines end with CRLF (the spool
// refuses bare CR/LF); `to_crlf` converts LF-only text (files, stdin) first.
// RFC 5322 §2.2 (field = name ":" body, §2.2.3 folding), §2.1 (header section, empty line, body);
// RFC 6376 §3.2 (tag=value lists).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace petrel::mailauth {

struct HeaderField {
    std::string_view name;   // as written, without trailing whitespace: "DKIM-Signature"
    std::string_view value;  // after the colon up to (excluding) the final CRLF; folds kept
    std::string_view raw;    // the whole field including the final CRLF (when present)
};

struct ParsedMessage {
    std::vector<HeaderField> fields;  // top to bottom
    std::string_view body;            // after the empty line; empty when there is none
};

// Limits that bound work on hostile input.
struct HeaderLimits {
    size_t max_fields = 1000;
};

// Parses the header section of `message` (the views point into it). nullopt with `error` set
// when a line is neither a field nor a continuation ("bad continuation" when the first line is
// folded, "bad header" for a line without a colon or with an empty or invalid name) or when
// there are more than `limits.max_fields` fields.
std::optional<ParsedMessage> parse_message(std::string_view message, std::string& error,
                                           const HeaderLimits& limits = {});

// ASCII case-insensitive comparison of header field names (RFC 5322 §1.2.2).
bool iequals(std::string_view a, std::string_view b);
std::string to_lower(std::string_view s);

// Text with bare LF line ends (or mixed) → CRLF everywhere; bare CR is left alone.
std::string to_crlf(std::string_view text);

// RFC 6376 §3.2 tag-list: tag-spec *(";" tag-spec) [";"]. Tag names are ALPHA *(ALPHA / DIGIT
// / "_"); values are trimmed of surrounding folding whitespace and keep inner FWS. A duplicate
// tag, an empty or malformed tag-spec makes the whole list invalid (nullopt).
struct Tag {
    std::string_view name;
    std::string_view value;  // a view into the input (offsets can be computed from it)
};
std::optional<std::vector<Tag>> parse_tag_list(std::string_view text);

// The value of tag `name` in `tags`, or nullptr.
const Tag* find_tag(const std::vector<Tag>& tags, std::string_view name);

// A colon-separated tag value (RFC 6376 key h=, s=, t=, signature q=) has `item` among its
// elements (each compared without FWS).
bool colon_list_contains(std::string_view list, std::string_view item);

// `s` without folding whitespace (SP, HTAB, CR, LF) anywhere: for base64 tag values.
std::string strip_fws(std::string_view s);

}  // namespace petrel::mailauth
