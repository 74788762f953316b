// smtp/capabilities.h — what a server's EHLO reply advertises, as data.
//
// Trust: input is a reply parsed from untrusted server bytes; unknown keywords are ignored,
// numbers are parsed strictly, the AUTH mechanism list is bounded. RFC 5321 §4.1.1.1 (EHLO
// reply: ehlo-line = ehlo-keyword *( SP ehlo-param )), RFC 2920 PIPELINING, RFC 1870 SIZE,
// RFC 6152 8BITMIME, RFC 3030 CHUNKING/BINARYMIME, RFC 6531 SMTPUTF8, RFC 3461 DSN,
// RFC 3207 STARTTLS, RFC 4954 AUTH, RFC 2034 ENHANCEDSTATUSCODES.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "smtp/reply.h"

namespace petrel::smtp {

struct Capabilities {
    bool esmtp = false;  // the server answered EHLO (not only HELO)
    bool pipelining = false;
    bool size_advertised = false;
    uint64_t size_limit = 0;  // 0: SIZE without a number or "SIZE 0": no fixed limit (RFC 1870 §4)
    bool eightbitmime = false;
    bool smtputf8 = false;
    bool chunking = false;
    bool binarymime = false;
    bool dsn = false;
    bool starttls = false;
    bool enhanced_status_codes = false;
    std::vector<std::string> auth;  // mechanisms, upper-case, at most 16

    bool has_auth(std::string_view mech) const;
};

// Parses the lines after the first of a 250 EHLO reply. "AUTH=..." (the pre-RFC 4954 form
// some servers still send) counts as AUTH.
Capabilities parse_capabilities(const Reply& ehlo_reply);

}  // namespace petrel::smtp
