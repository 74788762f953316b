// smtp/reply_parser.cpp — see reply_parser.h. RFC 5321 §4.2, §4.2.1; RFC 3463 §2; RFC 2034 §3.
#include "smtp/reply_parser.h"

namespace petrel::smtp {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 3463 §2: class "." subject "." detail; subject and detail 1*3digit.
size_t enhanced_length(std::string_view t) {
    size_t i = 1;
    if (t.size() < 5 || t[1] != '.') return 0;
    for (int part = 0; part < 2; ++part) {
        ++i;  // the dot
        size_t digits = 0;
        while (i < t.size() && is_digit(t[i]) && digits < 4) ++i, ++digits;
        if (digits == 0 || digits > 3) return 0;
        if (part == 0 && (i >= t.size() || t[i] != '.')) return 0;
    }
    if (i < t.size() && t[i] != ' ') return 0;
    return i;
}

}  // namespace

std::string leading_enhanced_code(int code, std::string_view text) {
    if (text.empty() || text[0] != static_cast<char>('0' + code / 100)) return {};
    const size_t n = enhanced_length(text);
    return n ? std::string(text.substr(0, n)) : std::string();
}

void ReplyParser::fail(std::string why) {
    status_ = Status::Error;
    error_ = std::move(why);
    partial_.clear();
}

void ReplyParser::reset() {
    status_ = Status::NeedMore;
    std::string().swap(partial_);
    lines_ = 0;
    reply_ = Reply{};
    error_.clear();
}

size_t ReplyParser::feed(std::string_view in) {
    if (status_ != Status::NeedMore) return 0;
    size_t pos = 0;
    while (pos < in.size()) {
        const std::string_view rest = in.substr(pos);
        const size_t lf = rest.find('\n');
        const size_t have = partial_.size() + (lf == std::string_view::npos ? rest.size() : lf + 1);
        if (have > limits_.max_line) {
            fail("reply line too long");
            return pos + std::min(rest.size(), limits_.max_line);
        }
        if (lf == std::string_view::npos) {
            partial_.append(rest);
            return in.size();
        }
        pos += lf + 1;
        std::string_view text = rest.substr(0, lf);
        std::string joined;
        if (!partial_.empty()) {
            joined = std::move(partial_);
            partial_.clear();
            joined.append(text);
            text = joined;
        }
        if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
        if (!line(text)) return pos;
        if (status_ == Status::Complete) return pos;
    }
    return pos;
}

bool ReplyParser::line(std::string_view text) {
    if (++lines_ > limits_.max_lines) {
        fail("too many reply lines");
        return false;
    }
    // Reply-code: %x32-35 %x30-35 %x30-39 (RFC 5321 §4.2).
    if (text.size() < 3 || text[0] < '2' || text[0] > '5' || text[1] < '0' || text[1] > '5' || !is_digit(text[2])) {
        fail("malformed reply code");
        return false;
    }
    const int code = (text[0] - '0') * 100 + (text[1] - '0') * 10 + (text[2] - '0');
    if (lines_ > 1 && code != reply_.code) {
        fail("inconsistent codes in a multi-line reply");  // RFC 5321 §4.2.1
        return false;
    }
    reply_.code = code;
    bool last = true;
    std::string_view body;
    if (text.size() > 3) {
        if (text[3] == '-') last = false;
        else if (text[3] != ' ') {
            fail("malformed reply separator");
            return false;
        }
        body = text.substr(4);
    }
    for (unsigned char c : body) {
        if (c < 0x20 && c != '\t') {
            fail("control character in reply");
            return false;
        }
    }
    reply_.lines.emplace_back(body);
    if (last) status_ = Status::Complete;
    return true;
}

Reply ReplyParser::take() {
    Reply r = std::move(reply_);
    if (r.lines.empty()) r.lines.emplace_back();
    // RFC 2034 §3: the enhanced code prefixes the text of every line; keep it once.
    r.enhanced = leading_enhanced_code(r.code, r.lines.front());
    if (!r.enhanced.empty()) {
        for (auto& l : r.lines) {
            if (l.compare(0, r.enhanced.size(), r.enhanced) == 0 &&
                (l.size() == r.enhanced.size() || l[r.enhanced.size()] == ' '))
                l.erase(0, std::min(l.size(), r.enhanced.size() + 1));
        }
    }
    status_ = Status::NeedMore;
    lines_ = 0;
    reply_ = Reply{};
    return r;
}

}  // namespace petrel::smtp
