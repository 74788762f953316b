// smtp/body_reader.cpp — see body_reader.h (RFC 5321 §4.1.1.4, §4.5.2, §4.5.3.1.6; RFC 3030).
#include "smtp/body_reader.h"

namespace petrel::smtp {

void DotReader::append(std::string_view s) {
    size_ += s.size();
    if (size_ > max_size_) flags_.too_big = true;
    if (flags_.any()) {
        // The message will be refused: keep consuming, stop storing (bounded memory).
        if (!body_.empty()) std::string().swap(body_);
        return;
    }
    body_.append(s);
}

void DotReader::count_line_bytes(size_t n) {
    line_len_ += n;
    if (line_len_ > max_line_) flags_.line_too_long = true;
}

size_t DotReader::consume(std::string_view in) {
    size_t i = 0;
    const size_t n = in.size();
    while (i < n && state_ != State::Done) {
        const char c = in[i];
        switch (state_) {
            case State::Bol:
                if (c == '.') {
                    count_line_bytes(1);
                    state_ = State::Dot;
                    ++i;
                    break;
                }
                state_ = State::Text;
                [[fallthrough]];
            case State::Text: {
                // Fast path: copy a run of ordinary bytes at once.
                size_t j = i;
                while (j < n && in[j] != '\r' && in[j] != '\n') ++j;
                if (j > i) {
                    count_line_bytes(j - i);
                    append(in.substr(i, j - i));
                    i = j;
                    break;
                }
                count_line_bytes(1);
                if (c == '\r') {
                    state_ = State::TextCr;
                } else {  // bare LF: recorded, never a line end
                    flags_.bare_cr_lf = true;
                    append("\n");
                }
                ++i;
                break;
            }
            case State::TextCr:
                if (c == '\n') {
                    count_line_bytes(1);
                    append("\r\n");
                    line_len_ = 0;
                    state_ = State::Bol;
                    ++i;
                } else {  // the CR before this byte was bare
                    flags_.bare_cr_lf = true;
                    append("\r");
                    state_ = State::Text;  // reprocess c in Text
                }
                break;
            case State::Dot:
                if (c == '\r') {
                    count_line_bytes(1);
                    state_ = State::DotCr;
                    ++i;
                } else {
                    // RFC 5321 §4.5.2: a leading dot followed by more text is removed.
                    state_ = State::Text;  // reprocess c in Text (a second '.' is kept)
                    if (c == '.') {
                        count_line_bytes(1);
                        append(".");
                        ++i;
                    }
                }
                break;
            case State::DotCr:
                if (c == '\n') {
                    state_ = State::Done;  // <CRLF>.<CRLF>
                    ++i;
                } else {
                    // ".<CR>x": the dot was stuffing, the CR is bare.
                    flags_.bare_cr_lf = true;
                    append("\r");
                    state_ = State::Text;
                }
                break;
            case State::Done:
                break;
        }
    }
    return i;
}

void ChunkCollector::add(std::string_view chunk) {
    size_ += chunk.size();
    if (size_ > max_size_) flags_.too_big = true;
    if (!binary_) {
        for (char c : chunk) {
            ++line_len_;
            if (pending_cr_) {
                if (c == '\n') {
                    pending_cr_ = false;
                    if (line_len_ > max_line_) flags_.line_too_long = true;
                    line_len_ = 0;
                    continue;
                }
                flags_.bare_cr_lf = true;
                pending_cr_ = false;
            }
            if (c == '\r') pending_cr_ = true;
            else if (c == '\n') flags_.bare_cr_lf = true;
            if (line_len_ > max_line_) flags_.line_too_long = true;
        }
    }
    if (flags_.any()) {
        if (!body_.empty()) std::string().swap(body_);
        return;
    }
    body_.append(chunk);
}

void ChunkCollector::finish() {
    if (pending_cr_) flags_.bare_cr_lf = true;
    pending_cr_ = false;
    if (flags_.any()) std::string().swap(body_);
}

}  // namespace petrel::smtp
