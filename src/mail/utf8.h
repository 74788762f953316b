// mail/utf8.h — UTF-8 well-formedness check for peer-supplied bytes.
//
// Trust: input is arbitrary bytes. Accepts only shortest-form UTF-8 without surrogates and
// without code points above U+10FFFF (RFC 3629 §4), as RFC 6531 §3.3 requires of SMTPUTF8 paths.
#pragma once

#include <string_view>

namespace petrel::mail {

bool is_valid_utf8(std::string_view s);
bool is_ascii(std::string_view s);

}  // namespace petrel::mail
