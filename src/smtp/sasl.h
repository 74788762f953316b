// smtp/sasl.h — the SASL pieces of SMTP AUTH: base64 and the PLAIN message.
//
// Trust: input is peer bytes. Base64 per RFC 4648 §4 strictly (padding required, no
// whitespace, no other alphabet), as RFC 4954 §4 requires of AUTH responses. PLAIN per
// RFC 4616 §2: [authzid] NUL authcid NUL passwd, with a non-empty authcid and passwd and no
// further NUL. LOGIN is the common non-standard mechanism (draft-murchison-sasl-login).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace petrel::smtp {

std::optional<std::string> base64_decode(std::string_view in);
std::string base64_encode(std::string_view in);

struct PlainMessage {
    std::string authzid;
    std::string authcid;
    std::string password;
};

std::optional<PlainMessage> parse_plain(std::string_view decoded);

}  // namespace petrel::smtp
