// mail/xtext.h — the xtext encoding of DSN and AUTH= parameters.
//
// Trust: input is peer bytes. RFC 3461 §4: xtext = *( xchar / hexchar ), xchar = "!".."~"
// except "+" and "=", hexchar = "+" two upper-case hex digits. Used by ENVID, ORCPT
// (RFC 3461 §4.2, §4.4) and AUTH= (RFC 4954 §5).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace petrel::mail {

// Decodes xtext; nullopt when malformed (a bad hexchar, a byte outside xchar).
std::optional<std::string> xtext_decode(std::string_view in);

// Encodes bytes as xtext (for writing DSN parameters onward).
std::string xtext_encode(std::string_view in);

}  // namespace petrel::mail
