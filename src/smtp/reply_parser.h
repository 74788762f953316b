// smtp/reply_parser.h — incremental parser of SMTP replies received from a server.
//
// Trust: input is untrusted bytes from a remote server (the client side of SMTP). Every limit
// (line length, number of lines) is enforced at the first byte that exceeds it, so a hostile
// server cannot make the parser grow without bound. RFC 5321 §4.2 (reply syntax: Reply-line =
// *( Reply-code "-" [ textstring ] CRLF ) Reply-code [ SP textstring ] CRLF; §4.2.1 every line
// of a multi-line reply carries the same code), RFC 3463 / RFC 2034 (enhanced status codes,
// whose class must match the reply's first digit). A bare LF is accepted as a line end (servers
// that send them exist; what a server says cannot smuggle anything into our output).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "smtp/reply.h"

namespace petrel::smtp {

struct ReplyLimits {
    size_t max_line = 2048;  // octets per reply line; RFC 5321 §4.5.3.1.5 says 512, servers exceed it
    size_t max_lines = 100;  // lines per reply (an EHLO reply has ~20)
};

class ReplyParser {
public:
    enum class Status { NeedMore, Complete, Error };

    explicit ReplyParser(ReplyLimits limits = {}) : limits_(limits) {}

    // Consumes bytes up to the end of one reply (or all of `in` when the reply is not complete
    // yet); returns how many bytes were used. Then status() says what happened; on Complete the
    // reply is taken with take(), which also readies the parser for the next reply.
    size_t feed(std::string_view in);
    Status status() const { return status_; }
    Reply take();
    const std::string& error() const { return error_; }  // on Error: why (for the log)
    bool idle() const { return partial_.empty() && lines_ == 0; }  // nothing of a reply received
    void reset();

private:
    bool line(std::string_view text);  // false on a malformed line
    void fail(std::string why);

    ReplyLimits limits_;
    Status status_ = Status::NeedMore;
    std::string partial_;  // the current line, before its LF
    size_t lines_ = 0;
    Reply reply_;
    std::string error_;
};

// The enhanced status code at the start of `text` when its class matches `code`
// ("5.1.1" for code 550 and text "5.1.1 User unknown"); empty when there is none.
std::string leading_enhanced_code(int code, std::string_view text);

}  // namespace petrel::smtp
