// smtp/limits.h — every input limit of an inbound SMTP session, named, with its default.
//
// Each limit is documented in docs/security.md and enforced at the first byte that exceeds it.
// RFC 5321 §4.5.3.1 (sizes), §4.5.3.2 (timeouts).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace petrel::smtp {

struct Limits {
    // RFC 5321 §4.5.3.1.4: a command line is at most 512 octets including CRLF. AUTH responses
    // may be longer (RFC 4954 §4: 12288 is what common servers accept).
    size_t max_command_line = 512;
    size_t max_auth_line = 12288;
    // RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets including CRLF.
    size_t max_data_line = 1000;
    uint64_t max_message_size = 35 * 1024 * 1024;  // SIZE advertised; 552 5.3.4 beyond
    size_t max_recipients = 100;                    // 452 4.5.3 beyond (RFC 5321 §4.5.3.1.8)
    unsigned max_errors = 10;                       // then 421 4.7.0 and close
    // RFC 5321 §4.5.3.2: server timeout waiting for the next command is at least 5 minutes;
    // between data blocks at least 3 minutes. Configurable so tests can shorten them.
    std::chrono::milliseconds command_timeout{std::chrono::minutes(5)};
    std::chrono::milliseconds data_timeout{std::chrono::minutes(3)};
};

}  // namespace petrel::smtp
