// mail/esmtp_params.h — the "KEY=VALUE" list after the path of MAIL FROM / RCPT TO.
//
// Trust: input is peer bytes. RFC 5321 §4.1.2: Mail-parameters = esmtp-param *(SP esmtp-param),
// esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-"), esmtp-value = 1*(%d33-60 / %d62-126),
// plus UTF-8 in values under SMTPUTF8 (RFC 6531 §3.3). Keywords are returned upper-cased; a
// keyword given twice is an error (each extension defines its keyword once per command).
// The meaning of each parameter is checked by smtp/, not here.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace petrel::mail {

struct EsmtpParam {
    std::string keyword;               // upper-case
    std::optional<std::string> value;  // as sent; nullopt when there was no "="
};

enum class ParamError { None, Syntax, Duplicate };

struct ParamsResult {
    std::vector<EsmtpParam> params;
    ParamError error = ParamError::None;
    bool ok() const { return error == ParamError::None; }
};

constexpr size_t kMaxEsmtpParams = 16;  // far above any real client; more is a syntax error

// `in` is what follows the closing '>' of the path: empty, or " KEY[=VALUE] ...". Leading
// spaces are allowed; several spaces between parameters are tolerated.
ParamsResult parse_esmtp_params(std::string_view in, bool allow_utf8);

}  // namespace petrel::mail
