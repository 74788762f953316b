// smtp/reply.h — an SMTP reply as data: code, enhanced status code, text lines.
//
// Trust: built only by petrel itself (never from peer bytes on the server side). The text must
// not contain CR or LF; `to_wire()` joins lines with the "-" continuation of RFC 5321 §4.2.1.
// Enhanced status codes: RFC 3463 / RFC 2034. A Reply with an empty `enhanced` is sent without
// one (only the greeting and the EHLO/HELO replies, as RFC 2034 §3 allows).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace petrel::smtp {

struct Reply {
    int code = 0;                    // 2xx..5xx
    std::string enhanced;            // "2.0.0", or empty
    std::vector<std::string> lines;  // at least one line of text

    Reply() = default;
    Reply(int c, std::string enh, std::string text);
    Reply(int c, std::string enh, std::vector<std::string> text_lines);

    bool positive() const { return code >= 200 && code < 400; }
    bool transient() const { return code >= 400 && code < 500; }
    bool permanent() const { return code >= 500; }

    // "250-first\r\n250 2.0.0 last\r\n": the enhanced code is repeated on every line (RFC 2034 §3).
    std::string to_wire() const;
};

}  // namespace petrel::smtp
