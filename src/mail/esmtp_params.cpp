// mail/esmtp_params.cpp — see esmtp_params.h (RFC 5321 §4.1.2 Mail-parameters).
#include "mail/esmtp_params.h"

#include "mail/utf8.h"

namespace petrel::mail {
namespace {

bool is_alnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
char upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c; }

}  // namespace

ParamsResult parse_esmtp_params(std::string_view in, bool allow_utf8) {
    ParamsResult r;
    size_t i = 0;
    if (!in.empty() && in[0] != ' ') {
        r.error = ParamError::Syntax;  // the path must be followed by SP or end
        return r;
    }
    while (i < in.size()) {
        while (i < in.size() && in[i] == ' ') ++i;
        if (i == in.size()) break;
        const size_t end = in.find(' ', i);
        std::string_view token = in.substr(i, end == std::string_view::npos ? in.npos : end - i);
        i = end == std::string_view::npos ? in.size() : end;
        const size_t eq = token.find('=');
        std::string_view key = token.substr(0, eq);
        if (key.empty() || !is_alnum(key[0])) {
            r.error = ParamError::Syntax;
            return r;
        }
        EsmtpParam p;
        for (char c : key) {
            if (!is_alnum(c) && c != '-') {
                r.error = ParamError::Syntax;
                return r;
            }
            p.keyword += upper(c);
        }
        if (eq != std::string_view::npos) {
            std::string_view value = token.substr(eq + 1);
            if (value.empty()) {
                r.error = ParamError::Syntax;
                return r;
            }
            for (unsigned char c : value) {
                const bool ok = (c >= 33 && c <= 60) || (c >= 62 && c <= 126) || (c >= 0x80 && allow_utf8);
                if (!ok) {
                    r.error = ParamError::Syntax;
                    return r;
                }
            }
            if (allow_utf8 && !is_valid_utf8(value)) {
                r.error = ParamError::Syntax;
                return r;
            }
            p.value = std::string(value);
        }
        for (const auto& q : r.params) {
            if (q.keyword == p.keyword) {
                r.error = ParamError::Duplicate;
                return r;
            }
        }
        if (r.params.size() >= kMaxEsmtpParams) {
            r.error = ParamError::Syntax;
            return r;
        }
        r.params.push_back(std::move(p));
    }
    return r;
}

}  // namespace petrel::mail
