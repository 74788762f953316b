// config/loader.h — the TOML → Config loader shared by the load*.cpp files (internal to
// config/; callers use load_config in config.h). One file per group of sections keeps each
// under ~600 lines: load.cpp (the root, listeners, tls, auth, domains, local, limits),
// load_delivery.cpp ([delivery], [dns]), load_mailauth.cpp ([dkim], [authentication]).
//
// Trust: the file is the operator's, but every value is checked; an unknown key or table, a
// value of the wrong type or out of range is a ConfigError naming the file and the line
// (toml++ keeps each node's source position).
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace petrel::config::detail {

// 'key', built by appending (g++ 12 warns falsely on "'" + std::string(...): -Wrestrict).
std::string q(std::string_view key);

constexpr int64_t kMaxInt = int64_t{1} << 53;  // large enough for any size here, exact in TOML

class Loader {
public:
    explicit Loader(std::string file) : file_(std::move(file)) {}

    Config load(const toml::table& root);

private:
    static int line_of(const toml::node* n) { return n ? static_cast<int>(n->source().begin.line) : 0; }

    [[noreturn]] void fail(int line, const std::string& message) const;
    [[noreturn]] void fail(const toml::node* n, const std::string& message) const;
    void check_keys(const toml::table& t, std::string_view where,
                    std::initializer_list<std::string_view> allowed) const;
    const toml::table* table_at(const toml::table& t, std::string_view key) const;
    std::optional<std::string> string_at(const toml::table& t, std::string_view key) const;
    std::optional<bool> bool_at(const toml::table& t, std::string_view key) const;
    std::optional<int64_t> int_at(const toml::table& t, std::string_view key, int64_t min,
                                  int64_t max) const;
    std::vector<std::string> strings_at(const toml::table& t, std::string_view key) const;

    // load.cpp
    std::vector<Listener> listeners(const toml::node& n) const;
    void tls(const toml::table& t, Tls& out) const;
    void auth(const toml::table& t, Auth& out) const;
    void domains(const toml::table& t, Domains& out) const;
    void local(const toml::table& t, Local& out) const;
    void limits(const toml::table& t, Config& c) const;

    // load_delivery.cpp
    void delivery(const toml::table& t, Config& c) const;
    std::vector<std::string> domain_list(const toml::table& t, const std::string& where,
                                         const toml::node* at) const;
    void destination_limits(const toml::table& t, const std::string& where,
                            DestinationPolicy& p) const;
    Smarthost smarthost(const toml::table& t, const std::string& host, const toml::node* at) const;
    void dns(const toml::table& t, Config& c) const;

    // load_mailauth.cpp
    void dkim(const toml::table& t, Dkim& out) const;
    void authentication(const toml::table& t, Authentication& out) const;

    std::string file_;
};

}  // namespace petrel::config::detail
