// smtp/capabilities.cpp — see capabilities.h. RFC 5321 §4.1.1.1 and the extension RFCs named there.
#include "smtp/capabilities.h"

#include <algorithm>

#include "base/number.h"

namespace petrel::smtp {
namespace {

std::string upper(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return out;
}

std::vector<std::string_view> words(std::string_view s) {
    std::vector<std::string_view> out;
    size_t pos = 0;
    while (pos < s.size() && out.size() < 32) {
        while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t')) ++pos;
        size_t end = pos;
        while (end < s.size() && s[end] != ' ' && s[end] != '\t') ++end;
        if (end > pos) out.push_back(s.substr(pos, end - pos));
        pos = end;
    }
    return out;
}

}  // namespace

bool Capabilities::has_auth(std::string_view mech) const {
    return std::find(auth.begin(), auth.end(), mech) != auth.end();
}

Capabilities parse_capabilities(const Reply& reply) {
    Capabilities caps;
    caps.esmtp = true;
    for (size_t i = 1; i < reply.lines.size(); ++i) {
        std::string_view line = reply.lines[i];
        std::string_view first = line;
        const size_t eq = line.find('=');
        const size_t sp = line.find(' ');
        if (eq != std::string_view::npos && eq < sp && upper(line.substr(0, eq)) == "AUTH") {
            first = line.substr(0, eq);
            line = line.substr(eq + 1);
        } else {
            first = line.substr(0, sp);
            line = sp == std::string_view::npos ? std::string_view() : line.substr(sp + 1);
        }
        const std::string key = upper(first);
        const auto params = words(line);
        if (key == "PIPELINING") caps.pipelining = true;
        else if (key == "SIZE") {
            caps.size_advertised = true;
            if (!params.empty())
                if (auto n = base::parse_decimal_u64(params.front())) caps.size_limit = *n;
        } else if (key == "8BITMIME") caps.eightbitmime = true;
        else if (key == "SMTPUTF8") caps.smtputf8 = true;
        else if (key == "CHUNKING") caps.chunking = true;
        else if (key == "BINARYMIME") caps.binarymime = true;
        else if (key == "DSN") caps.dsn = true;
        else if (key == "STARTTLS") caps.starttls = true;
        else if (key == "ENHANCEDSTATUSCODES") caps.enhanced_status_codes = true;
        else if (key == "AUTH") {
            for (auto m : params) {
                std::string mech = upper(m);
                if (caps.auth.size() < 16 && mech.size() <= 40 && !caps.has_auth(mech)) caps.auth.push_back(mech);
            }
        }
    }
    return caps;
}

}  // namespace petrel::smtp
