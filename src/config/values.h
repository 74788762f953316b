// config/values.h — parsers for the value forms a config file uses: "host:port" addresses and
// domain names.
//
// Trust: input is the operator's text, validated fully here; nothing from a peer reaches these.
// Addresses are IP literals only (no name lookups at start-up): "127.0.0.1:2525", "[::1]:2525".
// Domains are normalized by mail::normalize_domain, as paths are: lower-case A-labels (IDNA2008,
// UTS #46, RFC 5890/5891 via libidn2), a trailing dot dropped (RFC 5321 §2.3.5).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace petrel::config {

struct HostPort {
    std::string host;  // IP literal without brackets
    uint16_t port = 0;
};

// "a.b.c.d:port" or "[v6]:port". With `default_port`, the ":port" part may be left out
// ("127.0.0.1", "::1", "[::1]"). Port 0 is allowed (the kernel picks one: tests use it).
// Returns nullopt and sets `error` on failure.
std::optional<HostPort> parse_host_port(std::string_view text, std::optional<uint16_t> default_port,
                                        std::string& error);

// Lower-case A-label form of a domain name; nullopt and `error` when it is not a valid one.
std::optional<std::string> normalize_domain(std::string_view text, std::string& error);

}  // namespace petrel::config
