// mail/wire_encoding.cpp — see wire_encoding.h. RFC 5321 §2.3.8, §4.1.1.4, §4.5.2.
#include "mail/wire_encoding.h"

namespace petrel::mail {

void WireEncoder::encode(std::string_view in, std::string& out) {
    size_t pos = 0;
    while (pos < in.size()) {
        if (pending_cr_) {
            // CRLF stays CRLF; a CR followed by anything else is a lone CR and becomes CRLF.
            out += "\r\n";
            pending_cr_ = false;
            line_start_ = true;
            if (in[pos] == '\n') {
                ++pos;
                continue;
            }
        }
        if (line_start_ && in[pos] == '.') out += '.';  // RFC 5321 §4.5.2
        // Copy the run of ordinary octets up to the next CR or LF in one step.
        size_t end = pos;
        while (end < in.size() && in[end] != '\r' && in[end] != '\n') ++end;
        if (end > pos) {
            out.append(in.substr(pos, end - pos));
            line_start_ = false;
        }
        if (end == in.size()) return;
        if (in[end] == '\n') {
            out += "\r\n";  // a lone LF ends the line as CRLF
            line_start_ = true;
        } else {
            pending_cr_ = true;
        }
        pos = end + 1;
    }
}

void WireEncoder::finish(std::string& out) {
    if (pending_cr_ || !line_start_) out += "\r\n";
    out += ".\r\n";
    pending_cr_ = false;
    line_start_ = true;
}

std::string encode_for_data(std::string_view message) {
    std::string out;
    out.reserve(message.size() + message.size() / 64 + 8);
    WireEncoder enc;
    enc.encode(message, out);
    enc.finish(out);
    return out;
}

}  // namespace petrel::mail
