// config/load.cpp — TOML file → validated Config (config.h): load_config, the root keys, the
// generic value readers, and the sections [[listener]], [tls], [auth], [domains], [local],
// [limits]. The other sections are in load_delivery.cpp and load_mailauth.cpp (loader.h). Every
// key is listed here and in docs/configuration.md; an unknown key or table, a value of the
// wrong type or out of range is a ConfigError naming the file and the line (toml++ keeps each
// node's source position).
#include <algorithm>
#include <set>
#include <string_view>

#include "config/config.h"
#include "config/loader.h"
#include "config/values.h"
#include "mail/local_part.h"

namespace petrel::config {

namespace detail {

std::string q(std::string_view key) {
    std::string s;
    s.reserve(key.size() + 2);
    s += '\'';
    s.append(key);
    s += '\'';
    return s;
}

Config Loader::load(const toml::table& root) {
    Config c = default_config();
    c.source_file = file_;
    check_keys(root, "", {"data_dir", "hostname", "run_as", "log_level", "listener", "tls",
                          "auth", "domains", "limits", "delivery", "dns", "http", "queue",
                          "testing", "local", "dkim", "authentication"});
    if (auto v = string_at(root, "data_dir")) {
        if (v->empty()) fail(root["data_dir"].node(), "data_dir must not be empty");
        c.data_dir = *v;
    }
    c.local.maildir_root = c.data_dir + "/mail";  // default; [local] maildir_root overrides
    if (auto v = string_at(root, "hostname")) {
        std::string err;
        auto d = normalize_domain(*v, err);
        if (!d) fail(root["hostname"].node(), "hostname: " + err);
        c.hostname = *d;
    }
    if (auto v = string_at(root, "run_as")) {
        if (v->empty()) fail(root["run_as"].node(), "run_as must not be empty");
        c.run_as_user = *v;
    }
    if (auto v = string_at(root, "log_level")) {
        static const std::set<std::string> levels = {"trace", "debug",    "info", "warn",
                                                     "error", "critical", "off"};
        if (!levels.count(*v)) {
            fail(root["log_level"].node(),
                 "log_level must be one of trace, debug, info, warn, error, critical, off");
        }
        c.log_level = *v;
    }
    if (root.contains("listener")) c.listeners = listeners(*root.get("listener"));
    if (auto* t = table_at(root, "tls")) tls(*t, c.tls);
    if (auto* t = table_at(root, "auth")) auth(*t, c.auth);
    if (auto* t = table_at(root, "domains")) domains(*t, c.domains);
    if (auto* t = table_at(root, "limits")) limits(*t, c);
    if (auto* t = table_at(root, "delivery")) delivery(*t, c);
    if (auto* t = table_at(root, "dns")) dns(*t, c);
    if (auto* t = table_at(root, "http")) {
        check_keys(*t, "http", {"address"});
        if (auto v = string_at(*t, "address")) {
            std::string err;
            auto hp = parse_host_port(*v, std::nullopt, err);
            if (!hp) fail((*t)["address"].node(), "[http] address: " + err);
            c.http_address = *v;
        }
    }
    if (auto* t = table_at(root, "queue")) {
        check_keys(*t, "queue", {"max_spool_bytes"});
        if (auto v = int_at(*t, "max_spool_bytes", 0, kMaxInt)) c.queue.max_spool_bytes = *v;
    }
    if (auto* t = table_at(root, "local")) local(*t, c.local);
    if (auto* t = table_at(root, "dkim")) dkim(*t, c.dkim);
    c.authentication.authserv_id.clear();  // set by [authentication], else the hostname below
    if (auto* t = table_at(root, "authentication")) authentication(*t, c.authentication);
    if (c.authentication.authserv_id.empty()) c.authentication.authserv_id = c.hostname;
    if (auto* t = table_at(root, "testing")) {
        check_keys(*t, "testing", {"outbound_port"});
        if (auto v = int_at(*t, "outbound_port", 1, 65535)) {
            c.testing_outbound_port = static_cast<uint16_t>(*v);
        }
    }
    return c;
}

void Loader::fail(int line, const std::string& message) const {
    throw ConfigError(file_, line, message);
}

void Loader::fail(const toml::node* n, const std::string& message) const {
    fail(line_of(n), message);
}

void Loader::check_keys(const toml::table& t, std::string_view where,
                        std::initializer_list<std::string_view> allowed) const {
    for (auto&& [k, v] : t) {
        if (std::find(allowed.begin(), allowed.end(), k.str()) != allowed.end()) continue;
        int line = static_cast<int>(k.source().begin.line);
        if (line == 0) line = line_of(&v);
        std::string what = v.is_table() || v.is_array_of_tables() ? "table" : "key";
        std::string name = where.empty() ? std::string(k.str())
                                         : std::string(where) + "." + std::string(k.str());
        fail(line, "unknown " + what + " '" + name + "'");
    }
}

const toml::table* Loader::table_at(const toml::table& t, std::string_view key) const {
    const toml::node* n = t.get(key);
    if (!n) return nullptr;
    if (!n->is_table()) fail(n, q(key) + " must be a table: [" + std::string(key) + "]");
    return n->as_table();
}

std::optional<std::string> Loader::string_at(const toml::table& t, std::string_view key) const {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    if (!n->is_string()) fail(n, q(key) + " must be a string");
    return n->as_string()->get();
}

std::optional<bool> Loader::bool_at(const toml::table& t, std::string_view key) const {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    if (!n->is_boolean()) fail(n, q(key) + " must be true or false");
    return n->as_boolean()->get();
}

std::optional<int64_t> Loader::int_at(const toml::table& t, std::string_view key, int64_t min,
                                      int64_t max) const {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    if (!n->is_integer()) fail(n, q(key) + " must be an integer");
    int64_t v = n->as_integer()->get();
    if (v < 0 && min >= 0) fail(n, q(key) + " must not be negative");
    if (v < min || v > max) {
        fail(n, q(key) + " must be between " + std::to_string(min) + " and " +
                    std::to_string(max));
    }
    return v;
}

std::vector<std::string> Loader::strings_at(const toml::table& t, std::string_view key) const {
    std::vector<std::string> out;
    const toml::node* n = t.get(key);
    if (!n) return out;
    if (!n->is_array()) fail(n, q(key) + " must be an array of strings");
    for (const toml::node& e : *n->as_array()) {
        if (!e.is_string()) fail(&e, q(key) + " must be an array of strings");
        out.push_back(e.as_string()->get());
    }
    return out;
}

std::vector<Listener> Loader::listeners(const toml::node& n) const {
    if (!n.is_array_of_tables()) fail(&n, "'listener' must be an array of tables: [[listener]]");
    std::vector<Listener> out;
    std::set<std::pair<std::string, uint16_t>> seen;
    for (const toml::node& e : *n.as_array()) {
        const toml::table& t = *e.as_table();
        check_keys(t, "listener", {"kind", "address"});
        auto kind = string_at(t, "kind");
        if (!kind) fail(&e, "[[listener]] needs kind = \"mx\" | \"submission\" | \"submissions\"");
        Listener l;
        if (*kind == "mx") l.kind = ListenerKind::Mx;
        else if (*kind == "submission") l.kind = ListenerKind::Submission;
        else if (*kind == "submissions") l.kind = ListenerKind::Submissions;
        else fail(t.get("kind"), "bad listener kind '" + *kind + "' (mx, submission or submissions)");
        auto address = string_at(t, "address");
        if (!address) fail(&e, "[[listener]] needs address = \"host:port\"");
        std::string err;
        auto hp = parse_host_port(*address, std::nullopt, err);
        if (!hp) fail(t.get("address"), "[[listener]] address: " + err);
        l.host = hp->host;
        l.port = hp->port;
        l.address = *address;
        // Port 0 asks the kernel for a free port: several such listeners do not collide.
        if (l.port != 0 && !seen.insert({l.host, l.port}).second) {
            fail(t.get("address"), "duplicate listener address '" + *address + "'");
        }
        out.push_back(std::move(l));
    }
    if (out.empty()) fail(&n, "at least one [[listener]] is needed");
    return out;
}

void Loader::tls(const toml::table& t, Tls& out) const {
    check_keys(t, "tls", {"cert", "key"});
    if (auto v = string_at(t, "cert")) out.cert_file = *v;
    if (auto v = string_at(t, "key")) out.key_file = *v;
    if (out.cert_file.empty() != out.key_file.empty()) {
        fail(&t, "[tls] needs both cert and key (or neither, for a self-signed pair)");
    }
}

void Loader::auth(const toml::table& t, Auth& out) const {
    check_keys(t, "auth", {"allow_plaintext", "max_failures", "failure_window_seconds",
                           "lockout_seconds", "failure_delay_ms"});
    if (auto v = bool_at(t, "allow_plaintext")) out.allow_plaintext = *v;
    if (auto v = int_at(t, "max_failures", 1, 1000000)) out.max_failures = static_cast<unsigned>(*v);
    if (auto v = int_at(t, "failure_window_seconds", 1, 7 * 86400)) out.failure_window = std::chrono::seconds(*v);
    if (auto v = int_at(t, "lockout_seconds", 0, 7 * 86400)) out.lockout = std::chrono::seconds(*v);
    if (auto v = int_at(t, "failure_delay_ms", 0, 60000)) out.failure_delay = std::chrono::milliseconds(*v);
}

void Loader::domains(const toml::table& t, Domains& out) const {
    check_keys(t, "domains", {"local", "relay"});
    std::set<std::string> seen;
    auto read = [&](std::string_view key, std::vector<std::string>& into) {
        const toml::node* arr = t.get(key);
        for (const std::string& raw : strings_at(t, key)) {
            std::string err;
            auto d = normalize_domain(raw, err);
            if (!d) fail(arr, "[domains] " + std::string(key) + ": " + err);
            if (!seen.insert(*d).second) fail(arr, "[domains] lists '" + *d + "' twice");
            into.push_back(*d);
        }
    };
    read("local", out.local);
    read("relay", out.relay);
}

// [local]: names are mailbox names (mail/local_part.h: lower-cased, nothing that could leave
// the Maildir root); an alias points at a user, never at another alias (no chains).
void Loader::local(const toml::table& t, Local& out) const {
    check_keys(t, "local", {"maildir_root", "users", "aliases", "use_store_users"});
    if (auto v = string_at(t, "maildir_root")) {
        if (v->empty()) fail(t.get("maildir_root"), "[local] maildir_root must not be empty");
        out.maildir_root = *v;
    }
    if (auto v = bool_at(t, "use_store_users")) out.use_store_users = *v;
    std::set<std::string> users;
    const toml::node* arr = t.get("users");
    for (const std::string& raw : strings_at(t, "users")) {
        auto name = mail::mailbox_name(raw);
        if (!name) fail(arr, "[local] users: '" + raw + "' is not a usable mailbox name");
        if (!users.insert(*name).second) fail(arr, "[local] users lists '" + *name + "' twice");
        out.users.push_back(*name);
    }
    const toml::table* aliases = table_at(t, "aliases");
    if (!aliases) return;
    std::set<std::string> keys;
    std::vector<int> lines;
    for (auto&& [k, v] : *aliases) {
        const toml::node* n = &v;
        auto key = mail::mailbox_name(k.str());
        if (!key) fail(n, "[local.aliases] '" + std::string(k.str()) + "' is not a usable local part");
        if (!n->is_string()) fail(n, "[local.aliases] " + q(k.str()) + " must be a user name (a string)");
        auto target = mail::mailbox_name(n->as_string()->get());
        if (!target) fail(n, "[local.aliases] " + q(k.str()) + ": not a usable mailbox name");
        if (users.count(*key)) fail(n, "[local] '" + *key + "' is both a user and an alias");
        if (!keys.insert(*key).second) fail(n, "[local.aliases] lists '" + *key + "' twice");
        out.aliases.emplace_back(*key, *target);
        lines.push_back(line_of(n));
    }
    for (size_t i = 0; i < out.aliases.size(); ++i) {
        const auto& [key, target] = out.aliases[i];
        if (keys.count(target)) {
            fail(lines[i], "[local.aliases] '" + key + "' points at the alias '" + target +
                               "': an alias must name a user");
        }
    }
}

void Loader::limits(const toml::table& t, Config& c) const {
    check_keys(t, "limits", {"max_command_line", "max_auth_line", "max_data_line",
                             "max_message_size", "max_recipients", "max_errors",
                             "command_timeout_ms", "data_timeout_ms", "max_connections",
                             "max_connections_per_ip"});
    smtp::Limits& l = c.limits;
    // RFC 5321 §4.5.3.1: 512 (command line) and 1000 (text line) are minimums a server
    // must accept, so a config may raise them but never lower them.
    if (auto v = int_at(t, "max_command_line", 512, 65536)) l.max_command_line = *v;
    if (auto v = int_at(t, "max_auth_line", 512, 1 << 20)) l.max_auth_line = *v;
    if (auto v = int_at(t, "max_data_line", 1000, 1 << 20)) l.max_data_line = *v;
    if (auto v = int_at(t, "max_message_size", 1024, int64_t{1} << 40)) l.max_message_size = *v;
    if (auto v = int_at(t, "max_recipients", 1, 100000)) l.max_recipients = *v;
    if (auto v = int_at(t, "max_errors", 1, 10000)) l.max_errors = static_cast<unsigned>(*v);
    if (auto v = int_at(t, "command_timeout_ms", 1, 86400000)) l.command_timeout = std::chrono::milliseconds(*v);
    if (auto v = int_at(t, "data_timeout_ms", 1, 86400000)) l.data_timeout = std::chrono::milliseconds(*v);
    if (auto v = int_at(t, "max_connections", 1, 10000000)) c.max_connections = static_cast<unsigned>(*v);
    if (auto v = int_at(t, "max_connections_per_ip", 1, 10000000)) c.max_connections_per_ip = static_cast<unsigned>(*v);
}

}  // namespace detail

Config load_config(const std::string& path) {
    toml::table root;
    try {
        root = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
        const auto& src = e.source();
        std::string message(e.description());
        // toml++ reports a missing file as a parse error at line 0.
        throw ConfigError(path, static_cast<int>(src.begin.line), message);
    }
    return detail::Loader(path).load(root);
}

}  // namespace petrel::config
