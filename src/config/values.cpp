// config/values.cpp — see values.h.
#include "config/values.h"

#include "mail/domain.h"
#include <arpa/inet.h>

#include <charconv>
#include <cstdlib>

namespace petrel::config {

namespace {

bool is_ipv4(const std::string& s) {
    in_addr a{};
    return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool is_ipv6(const std::string& s) {
    in6_addr a{};
    return inet_pton(AF_INET6, s.c_str(), &a) == 1;
}

std::optional<uint16_t> parse_port(std::string_view s, std::string& error) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
        error = "bad port '" + std::string(s) + "'";
        return std::nullopt;
    }
    if (value > 65535) {
        error = "port " + std::string(s) + " out of range (0-65535)";
        return std::nullopt;
    }
    return static_cast<uint16_t>(value);
}

}  // namespace

std::optional<HostPort> parse_host_port(std::string_view text, std::optional<uint16_t> default_port,
                                        std::string& error) {
    std::string quoted;
    quoted.reserve(text.size() + 2);
    quoted.append(1, '\'').append(text).append(1, '\'');
    HostPort out;
    std::string_view port_part;
    bool has_port = false;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos) {
            error = "bad address " + quoted + ": missing ']'";
            return std::nullopt;
        }
        out.host = std::string(text.substr(1, close - 1));
        auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') {
                error = "bad address " + quoted + ": expected ':' after ']'";
                return std::nullopt;
            }
            port_part = rest.substr(1);
            has_port = true;
        }
        if (!is_ipv6(out.host)) {
            error = "bad address " + quoted + ": not an IPv6 address inside [ ]";
            return std::nullopt;
        }
    } else {
        auto colon = text.rfind(':');
        if (colon != std::string_view::npos && text.find(':') != colon) {
            // Several colons without brackets: a bare IPv6 address, allowed only without a port.
            out.host = std::string(text);
            if (!default_port || !is_ipv6(out.host)) {
                error = "bad address " + quoted + ": write IPv6 as [addr]:port";
                return std::nullopt;
            }
        } else if (colon != std::string_view::npos) {
            out.host = std::string(text.substr(0, colon));
            port_part = text.substr(colon + 1);
            has_port = true;
            if (!is_ipv4(out.host)) {
                error = "bad address " + quoted + ": host must be an IP address";
                return std::nullopt;
            }
        } else {
            out.host = std::string(text);
            if (!is_ipv4(out.host)) {
                error = "bad address " + quoted + ": host must be an IP address";
                return std::nullopt;
            }
        }
    }
    if (has_port) {
        std::string port_error;
        auto port = parse_port(port_part, port_error);
        if (!port) {
            error = "bad address " + quoted + ": " + port_error;
            return std::nullopt;
        }
        out.port = *port;
    } else if (default_port) {
        out.port = *default_port;
    } else {
        error = "bad address " + quoted + ": expected host:port";
        return std::nullopt;
    }
    return out;
}

std::optional<std::string> normalize_domain(std::string_view text, std::string& error) {
    std::string_view name = text;
    if (!name.empty() && name.back() == '.') name.remove_suffix(1);  // "example.test." is absolute
    const std::string shown(name);
    // The same normalization as the path parser (mail/domain.h), so that what the operator
    // configured and what a client sends compare equal in policy/.
    mail::DomainResult r = mail::normalize_domain(name, /*allow_utf8=*/true);
    switch (r.error) {
        case mail::DomainError::None: return r.domain;
        case mail::DomainError::TooLong: error = "domain '" + shown + "' is too long"; break;
        case mail::DomainError::Idna: error = "bad domain '" + shown + "': IDNA conversion failed"; break;
        default: error = "bad domain '" + shown + "': only letters, digits and '-' in labels"; break;
    }
    return std::nullopt;
}

}  // namespace petrel::config
