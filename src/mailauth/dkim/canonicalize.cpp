// mailauth/dkim/canonicalize.cpp — see canonicalize.h. RFC 6376 §3.4.
#include "mailauth/dkim/canonicalize.h"

namespace petrel::mailauth::dkim {

namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }

// Passes bytes on to the sink until the l= limit is reached; counts everything.
class LimitedSink {
public:
    LimitedSink(const std::function<void(std::string_view)>& sink, std::optional<uint64_t> limit)
        : sink_(sink), limit_(limit) {}

    void put(std::string_view s) {
        if (s.empty()) return;
        if (limit_) {
            uint64_t room = *limit_ > total_ ? *limit_ - total_ : 0;
            if (room < s.size()) s = s.substr(0, room);
        }
        total_ += s.size();
        if (!s.empty()) sink_(s);
    }

private:
    const std::function<void(std::string_view)>& sink_;
    std::optional<uint64_t> limit_;
    uint64_t total_ = 0;
};

}  // namespace

const char* to_string(Canon c) { return c == Canon::Simple ? "simple" : "relaxed"; }

std::string canonicalize_header(const HeaderField& field, Canon canon) {
    if (canon == Canon::Simple) return std::string(field.raw);
    // §3.4.2: lower-case name; unfold; WSP runs → one SP; no WSP at the value's ends or
    // around the colon.
    std::string out = to_lower(field.name);
    out += ':';
    bool pending_space = false;
    bool started = false;  // whitespace before the first value character is dropped
    for (char c : field.value) {
        if (c == '\r' || c == '\n') continue;
        if (is_wsp(c)) {
            pending_space = true;
            continue;
        }
        if (pending_space && started) out += ' ';
        pending_space = false;
        started = true;
        out += c;
    }
    out += "\r\n";
    return out;
}

uint64_t canonicalize_body(std::string_view body, Canon canon,
                           const std::function<void(std::string_view)>& sink,
                           std::optional<uint64_t> limit) {
    // Both algorithms drop empty lines at the end of the body; they are counted and written
    // out only when a non-empty line follows them.
    uint64_t whole = 0;
    uint64_t pending_empty = 0;
    LimitedSink out(sink, limit);
    std::string line_buf;
    auto emit_pending = [&] {
        for (; pending_empty > 0; --pending_empty) {
            out.put("\r\n");
            whole += 2;
        }
    };
    size_t pos = 0;
    while (pos < body.size()) {
        size_t crlf = body.find("\r\n", pos);
        size_t end = crlf == std::string_view::npos ? body.size() : crlf;
        std::string_view line = body.substr(pos, end - pos);
        pos = crlf == std::string_view::npos ? body.size() : crlf + 2;
        if (canon == Canon::Relaxed) {
            // §3.4.4: drop WSP at the end of the line; other WSP runs → one SP.
            line_buf.clear();
            bool space = false;
            for (char c : line) {
                if (is_wsp(c)) {
                    space = true;
                    continue;
                }
                if (space) line_buf += ' ';
                space = false;
                line_buf += c;
            }
            line = line_buf;
        }
        if (line.empty()) {
            ++pending_empty;
            continue;
        }
        emit_pending();
        out.put(line);
        out.put("\r\n");  // §3.4.3/§3.4.4: a last line without CRLF gets one
        whole += line.size() + 2;
    }
    // §3.4.3: an empty simple body is one CRLF; §3.4.4 (erratum 1384): an empty relaxed body
    // stays empty.
    if (whole == 0 && canon == Canon::Simple) {
        out.put("\r\n");
        whole = 2;
    }
    return whole;
}

std::string canonical_body(std::string_view body, Canon canon) {
    std::string out;
    canonicalize_body(body, canon, [&](std::string_view s) { out.append(s); });
    return out;
}

}  // namespace petrel::mailauth::dkim
