// mail/wire_encoding.h — turns a stored message into bytes that are safe to send after DATA.
//
// Trust: the input is a stored message whose bytes came from anyone (an SMTP client, the HTTP
// API); nothing in it may end the DATA phase early or change how the next hop splits it. The
// output obeys RFC 5321 §2.3.8 and §4.1.1.4: every line ends in CRLF (a lone LF, a lone CR and
// the CR of CRCRLF each become CRLF), a line that starts with "." gets another "." in front
// (§4.5.2 transparency), a message that does not end in CRLF gets one, and the result ends with
// the terminator ".\r\n" after that CRLF. So the only <CRLF>.<CRLF> in the output is the final
// one: no message can smuggle an end-of-data to the next hop (SMTP smuggling, 2023).
//
// Streaming: chunks in, bytes appended out; the state (start of line, a CR waiting to see
// whether an LF follows) is kept across chunk boundaries, so any split of the input gives the
// same output and a large message is never copied whole. Line length is not changed (a
// message over 1000-octet lines is the originator's problem; rewriting it would break DKIM).
#pragma once

#include <string>
#include <string_view>

namespace petrel::mail {

class WireEncoder {
public:
    // Appends the encoding of `chunk` to `out`.
    void encode(std::string_view chunk, std::string& out);
    // Appends what ends the data: the CRLF of an unterminated last line, then ".\r\n".
    // The encoder is then ready for a new message.
    void finish(std::string& out);

private:
    bool line_start_ = true;  // the next octet begins a line
    bool pending_cr_ = false; // a CR was seen; whether an LF follows is not known yet
};

// The whole message at once (tests, small messages).
std::string encode_for_data(std::string_view message);

}  // namespace petrel::mail
