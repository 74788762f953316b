// config/load_delivery.cpp — the [delivery] (with [delivery.smarthost],
// [[delivery.destination]], [[delivery.route]]) and [dns] sections of the config file
// (loader.h; keys in docs/configuration.md). Errors name the file and line.
#include <fstream>
#include <string>

#include "config/loader.h"
#include "config/values.h"

namespace petrel::config::detail {

void Loader::delivery(const toml::table& t, Config& c) const {
    check_keys(t, "delivery", {"mode", "paused", "retry_schedule", "first_retry_seconds",
                               "max_retry_seconds", "max_queue_lifetime_seconds",
                               "bounce_lifetime_seconds", "delay_warning_seconds",
                               "idle_timeout_seconds", "connect_timeout_seconds",
                               "destination_backoff_seconds", "max_connections",
                               "messages_per_connection", "messages_per_minute", "tls",
                               "ca_file", "smarthost", "destination", "route"});
    Delivery& d = c.delivery;
    if (auto v = string_at(t, "mode")) {
        if (*v == "sandbox") c.delivery_mode = DeliveryMode::Sandbox;
        else if (*v == "mx") c.delivery_mode = DeliveryMode::Mx;
        else if (*v == "smarthost") c.delivery_mode = DeliveryMode::Smarthost;
        else fail(t.get("mode"), "bad delivery mode '" + *v + "' (sandbox, mx or smarthost)");
    }
    if (auto v = bool_at(t, "paused")) d.paused = *v;
    auto secs = [&](std::string_view key, int64_t min, std::chrono::seconds& into) {
        if (auto v = int_at(t, key, min, 365 * 86400)) into = std::chrono::seconds(*v);
    };
    if (const toml::node* n = t.get("retry_schedule")) {
        if (!n->is_array()) fail(n, "'retry_schedule' must be an array of seconds");
        for (const toml::node& e : *n->as_array()) {
            if (!e.is_integer() || e.as_integer()->get() < 1) {
                fail(&e, "'retry_schedule' must hold positive integers (seconds)");
            }
            d.retry_schedule.emplace_back(e.as_integer()->get());
        }
    }
    secs("first_retry_seconds", 1, d.first_retry);
    secs("max_retry_seconds", 1, d.max_retry);
    secs("max_queue_lifetime_seconds", 1, d.max_queue_lifetime);
    secs("bounce_lifetime_seconds", 1, d.bounce_lifetime);
    secs("delay_warning_seconds", 0, d.delay_warning);
    secs("idle_timeout_seconds", 0, d.idle_timeout);
    secs("connect_timeout_seconds", 1, d.connect_timeout);
    secs("destination_backoff_seconds", 1, d.destination_backoff);
    if (d.max_retry < d.first_retry) {
        fail(t.get("max_retry_seconds"), "'max_retry_seconds' must not be below 'first_retry_seconds'");
    }
    destination_limits(t, "delivery", d.defaults);
    if (const toml::node* n = t.get("destination")) {
        if (!n->is_array_of_tables()) fail(n, "'destination' must be [[delivery.destination]] tables");
        for (const toml::node& e : *n->as_array()) {
            const toml::table& dt = *e.as_table();
            check_keys(dt, "delivery.destination", {"domains", "max_connections",
                                                    "messages_per_connection",
                                                    "messages_per_minute", "tls", "ca_file"});
            DestinationPolicy p = d.defaults;
            p.domains = domain_list(dt, "[[delivery.destination]]", &e);
            destination_limits(dt, "delivery.destination", p);
            d.destinations.push_back(std::move(p));
        }
    }
    if (auto* st = table_at(t, "smarthost")) {
        check_keys(*st, "delivery.smarthost", {"host", "tls", "tls_verify", "ca_file",
                                               "username", "password", "password_file"});
        auto host = string_at(*st, "host");
        if (!host) fail(st, "[delivery.smarthost] needs host = \"host:port\"");
        d.smarthost = smarthost(*st, *host, st->get("host"));
    }
    if (const toml::node* n = t.get("route")) {
        if (!n->is_array_of_tables()) fail(n, "'route' must be [[delivery.route]] tables");
        for (const toml::node& e : *n->as_array()) {
            const toml::table& rt = *e.as_table();
            check_keys(rt, "delivery.route", {"domains", "smarthost", "tls", "tls_verify",
                                              "ca_file", "username", "password",
                                              "password_file"});
            auto host = string_at(rt, "smarthost");
            if (!host) fail(&e, "[[delivery.route]] needs smarthost = \"host:port\"");
            d.routes.push_back({domain_list(rt, "[[delivery.route]]", &e),
                                smarthost(rt, *host, rt.get("smarthost"))});
        }
    }
    if (c.delivery_mode == DeliveryMode::Smarthost && !d.smarthost) {
        fail(t.get("mode"), "mode = \"smarthost\" needs a [delivery.smarthost] table");
    }
}

std::vector<std::string> Loader::domain_list(const toml::table& t, const std::string& where,
                                             const toml::node* at) const {
    std::vector<std::string> out;
    for (const std::string& raw : strings_at(t, "domains")) {
        std::string err;
        auto d = normalize_domain(raw, err);
        if (!d) fail(t.get("domains"), where + " domains: " + err);
        out.push_back(*d);
    }
    if (out.empty()) fail(at, where + " needs domains = [\"...\"]");
    return out;
}

void Loader::destination_limits(const toml::table& t, const std::string& where,
                                DestinationPolicy& p) const {
    if (auto v = int_at(t, "max_connections", 1, 10000)) p.max_connections = static_cast<unsigned>(*v);
    if (auto v = int_at(t, "messages_per_connection", 1, 1000000)) p.messages_per_connection = static_cast<unsigned>(*v);
    if (auto v = int_at(t, "messages_per_minute", 0, 100000000)) p.messages_per_minute = static_cast<unsigned>(*v);
    if (auto v = string_at(t, "tls")) {
        if (*v == "none") p.tls = TlsPolicy::None;
        else if (*v == "opportunistic") p.tls = TlsPolicy::Opportunistic;
        else if (*v == "required") p.tls = TlsPolicy::Required;
        else fail(t.get("tls"), "[" + where + "] tls must be none, opportunistic or required");
    }
    if (auto v = string_at(t, "ca_file")) {
        // Read at start-up as root (before the privilege drop): fail here, naming the line,
        // rather than when the delivery engine builds its TLS contexts.
        if (!std::ifstream(*v)) fail(t.get("ca_file"), "[" + where + "] cannot read ca_file '" + *v + "'");
        p.ca_file = *v;
    }
}

Smarthost Loader::smarthost(const toml::table& t, const std::string& host, const toml::node* at) const {
    Smarthost s;
    // A relay is usually named (smtp.relay.example): "name[:port]", "ip[:port]", "[v6]:port".
    std::string err;
    if (auto hp = parse_host_port(host, uint16_t{25}, err)) {
        s.host = hp->host;
        s.port = hp->port;
    } else {
        std::string name = host;
        const auto colon = host.rfind(':');
        if (colon != std::string::npos) {
            name = host.substr(0, colon);
            const std::string port = host.substr(colon + 1);
            if (port.empty() || port.size() > 5 ||
                port.find_first_not_of("0123456789") != std::string::npos ||
                std::stoi(port) < 1 || std::stoi(port) > 65535) {
                fail(at, "smart host: bad port in '" + host + "'");
            }
            s.port = static_cast<uint16_t>(std::stoi(port));
        }
        auto d = normalize_domain(name, err);
        if (!d) fail(at, "smart host: " + err);
        s.host = *d;
    }
    if (auto v = string_at(t, "tls")) {
        if (*v == "none") s.tls = SmarthostTls::None;
        else if (*v == "starttls") s.tls = SmarthostTls::StartTls;
        else if (*v == "implicit") s.tls = SmarthostTls::Implicit;
        else fail(t.get("tls"), "smart host tls must be none, starttls or implicit");
    }
    if (auto v = bool_at(t, "tls_verify")) s.tls_verify = *v;
    if (auto v = string_at(t, "ca_file")) s.ca_file = *v;
    if (auto v = string_at(t, "username")) s.username = *v;
    if (auto v = string_at(t, "password")) s.password = *v;
    if (auto v = string_at(t, "password_file")) {
        if (t.contains("password")) fail(t.get("password_file"), "give password or password_file, not both");
        std::ifstream in(*v);
        if (!in || !std::getline(in, s.password)) {
            fail(t.get("password_file"), "cannot read password_file '" + *v + "'");
        }
        if (!s.password.empty() && s.password.back() == '\r') s.password.pop_back();
    }
    if (!s.username.empty() && s.password.empty()) fail(t.get("username"), "smart host username needs a password");
    return s;
}

void Loader::dns(const toml::table& t, Config& c) const {
    check_keys(t, "dns", {"servers", "timeout_ms", "attempts", "cache_entries"});
    const toml::node* arr = t.get("servers");
    for (const std::string& raw : strings_at(t, "servers")) {
        std::string err;
        auto hp = parse_host_port(raw, uint16_t{53}, err);
        if (!hp) fail(arr, "[dns] servers: " + err);
        bool v6 = hp->host.find(':') != std::string::npos;
        c.dns.servers.push_back((v6 ? "[" + hp->host + "]" : hp->host) + ":" +
                                std::to_string(hp->port));
    }
    if (auto v = int_at(t, "timeout_ms", 10, 60000)) c.dns.timeout = std::chrono::milliseconds(*v);
    if (auto v = int_at(t, "attempts", 1, 10)) c.dns.attempts = static_cast<unsigned>(*v);
    if (auto v = int_at(t, "cache_entries", 0, 10000000)) c.dns.cache_entries = static_cast<size_t>(*v);
}

}  // namespace petrel::config::detail
