// smtp/reply.cpp — serialization of replies (RFC 5321 §4.2.1, RFC 2034 §3).
#include "smtp/reply.h"

namespace petrel::smtp {

Reply::Reply(int c, std::string enh, std::string text)
    : code(c), enhanced(std::move(enh)), lines{std::move(text)} {}

Reply::Reply(int c, std::string enh, std::vector<std::string> text_lines)
    : code(c), enhanced(std::move(enh)), lines(std::move(text_lines)) {
    if (lines.empty()) lines.emplace_back();
}

std::string Reply::to_wire() const {
    std::string out;
    const std::string code_str = std::to_string(code);
    for (size_t i = 0; i < lines.size(); ++i) {
        out += code_str;
        out += (i + 1 == lines.size()) ? ' ' : '-';
        if (!enhanced.empty()) {
            out += enhanced;
            if (!lines[i].empty()) out += ' ';
        }
        out += lines[i];
        out += "\r\n";
    }
    return out;
}

}  // namespace petrel::smtp
