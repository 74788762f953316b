// mailauth/auth_results.h — the Authentication-Results header field (RFC 8601): building
// petrel's own, and removing fields that forge petrel's authserv-id.
//
// Pure: strings in, strings out. Trust: every value may be hostile — DKIM d=, s= and b= come
// from the message, MAIL FROM and HELO from the SMTP client, reasons may quote DNS text. So
// every value goes through one gate (`ar_value`/`ar_pvalue`/`ar_comment`): control characters
// (CR, LF, TAB, NUL, DEL) are dropped, values are cut to kMaxValue octets, and anything that is
// not a plain token is quoted; no value can end the field, start another or break its syntax.
// The field is folded between words, each resinfo on a line of its own; no line exceeds
// 998 octets (RFC 5322 §2.1.1), whatever the input.
// RFC 8601 §2.2 (syntax: authserv-id, resinfo, methodspec, reasonspec, propspec; "value" is
// RFC 2045's token / quoted-string), §2.3 (authserv-id), §2.7 (result words, ptypes), §5
// (removing fields that claim our authserv-id); RFC 5322 §3.2.2 (comments), §3.2.4
// (quoted-string), §2.2.3 (folding); RFC 6008 (header.b, a prefix of b=).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace petrel::mailauth {

constexpr size_t kMaxValue = 200;  // octets kept of one value or comment (hostile input)

// One "ptype.property=pvalue" (RFC 8601 §2.2 propspec), e.g. {"smtp.mailfrom", "a@b.example"}.
struct Property {
    std::string name;   // petrel's own: "smtp.mailfrom", "header.d", ...
    std::string value;  // any bytes: rendered through ar_pvalue
};

// One resinfo: "method=result [(comment)] [reason=value] [properties...]".
struct ResultInfo {
    std::string method;   // "spf", "dkim", "dmarc", "arc"
    std::string result;   // "pass", "fail", "none", ... (RFC 8601 §2.7)
    std::string comment;  // "" for none; rendered through ar_comment
    std::string reason;   // "" for none; rendered through ar_value
    std::vector<Property> properties;
};

// RFC 2045 §5.1 token: 1* of US-ASCII printable characters other than SPACE and tspecials
// ( ) < > @ , ; : \ " / [ ] ? =.
bool is_token(std::string_view s);

// RFC 8601 "value": `s` as a token when it is one, else as a quoted-string (RFC 5322
// §3.2.4: '"' and '\' escaped). Control characters are dropped and the result holds at
// most kMaxValue octets of `s` (cut before a UTF-8 continuation octet). Octets ≥ 0x80 stay
// (RFC 6532 §3.2 allows UTF-8 in quoted-strings). An empty `s` gives "\"\"".
std::string ar_value(std::string_view s);

// RFC 8601 pvalue: "[local-part] @ domain-name" unquoted when `s` is a plain dot-atom
// address or domain (what smtp.mailfrom and header.d usually are), else ar_value(s).
std::string ar_pvalue(std::string_view s);

// A comment "( … )": control characters dropped, '(' ')' '\' escaped as quoted-pairs
// (RFC 5322 §3.2.2), at most kMaxValue octets of `s`.
std::string ar_comment(std::string_view s);

// The whole field, "Authentication-Results: <authserv-id>;\r\n\t<resinfo>;\r\n\t…\r\n",
// or "…: <authserv-id>; none\r\n" when `results` is empty (§2.2 no-result).
std::string build_authentication_results(std::string_view authserv_id,
                                         const std::vector<ResultInfo>& results);

// The authserv-id an Authentication-Results field value names (the first token or
// quoted-string after optional CFWS, §2.2), unquoted; "" when there is none.
std::string authserv_id_of(std::string_view field_value);

// §5: removes from the header section of `message` (CRLF line ends) every
// Authentication-Results field whose authserv-id equals `authserv_id` (ASCII
// case-insensitive: it is a host name). Other fields, ARC-Authentication-Results and the
// body are untouched. Returns the number removed; a header section that cannot be parsed is
// left as it is (0).
size_t remove_forged_results(std::string& message, std::string_view authserv_id);

}  // namespace petrel::mailauth
