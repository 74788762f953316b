// smtp/body_reader.h — collects a message body from DATA (dot-terminated) or BDAT chunks.
//
// Trust: input is peer bytes, the place where SMTP smuggling happens. Implements RFC 5321
// §4.1.1.4 and §4.5.2 (only <CRLF>.<CRLF> ends DATA; a leading dot is removed, "transparency"),
// §4.5.3.1.6 (text line length, including CRLF) and RFC 3030 §2 / §3 (BDAT chunks).
// A bare CR or a bare LF is never a line end: it is recorded and the message is refused at its
// end, so `<LF>.<LF>`, `<CR>.<CR>`, `<LF>.<CRLF>` and `<CRLF>.<LF>` can never end DATA or hide
// a second message (the 2023 SMTP smuggling attacks). Once any error is recorded, or the size
// limit is passed, bytes are still consumed (to stay in step with the client) but not stored.
// Split-invariant: the result does not depend on how the input is cut into calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace petrel::smtp {

struct BodyFlags {
    bool bare_cr_lf = false;     // a CR not followed by LF, or an LF not preceded by CR
    bool line_too_long = false;  // a line over max_line octets including CRLF
    bool too_big = false;        // more than max_size octets
    bool any() const { return bare_cr_lf || line_too_long || too_big; }
};

// DATA: reads until <CRLF>.<CRLF>, un-stuffing dots.
class DotReader {
public:
    DotReader(size_t max_line, uint64_t max_size) : max_line_(max_line), max_size_(max_size) {}

    // Consumes bytes of `in` up to and including the end-of-data marker; returns how many.
    size_t consume(std::string_view in);
    bool done() const { return state_ == State::Done; }
    const BodyFlags& flags() const { return flags_; }
    std::string take_body() { return std::move(body_); }

private:
    enum class State { Bol, Text, TextCr, Dot, DotCr, Done };
    void append(std::string_view s);
    void count_line_bytes(size_t n);

    size_t max_line_;
    uint64_t max_size_;
    State state_ = State::Bol;
    size_t line_len_ = 0;
    uint64_t size_ = 0;
    BodyFlags flags_;
    std::string body_;
};

// BDAT: the session cuts the chunks by their octet counts; this checks text bodies (7BIT and
// 8BITMIME) for bare CR/LF and line length across chunk boundaries, and stores the bytes.
// BINARYMIME bodies (RFC 3030 §3) are stored without any check but the size.
class ChunkCollector {
public:
    ChunkCollector(size_t max_line, uint64_t max_size, bool binary)
        : max_line_(max_line), max_size_(max_size), binary_(binary) {}

    void add(std::string_view chunk);
    void finish();  // after BDAT LAST: a trailing CR is bare
    uint64_t size() const { return size_; }
    const BodyFlags& flags() const { return flags_; }
    std::string take_body() { return std::move(body_); }

private:
    size_t max_line_;
    uint64_t max_size_;
    bool binary_;
    bool pending_cr_ = false;
    size_t line_len_ = 0;
    uint64_t size_ = 0;
    BodyFlags flags_;
    std::string body_;
};

}  // namespace petrel::smtp
