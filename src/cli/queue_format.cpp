// cli/queue_format.cpp — see queue_format.h.
#include "cli/queue_format.h"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <cstdio>
#include <string_view>

#include "base/escape.h"

namespace petrel::cli {

namespace json = boost::json;

namespace {

std::string str(const json::object& o, std::string_view key, size_t max = 200) {
    auto it = o.find(key);
    if (it == o.end() || !it->value().is_string()) return "?";
    const json::string& s = it->value().get_string();
    return base::escape_for_log(std::string_view(s.data(), s.size()), max);
}

int64_t num(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    if (it == o.end()) return 0;
    if (it->value().is_int64()) return it->value().get_int64();
    if (it->value().is_uint64()) return static_cast<int64_t>(it->value().get_uint64());
    return 0;
}

bool flag(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    return it != o.end() && it->value().is_bool() && it->value().get_bool();
}

const json::object* obj(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    return it == o.end() ? nullptr : it->value().if_object();
}

const json::array* arr(const json::object& o, std::string_view key) {
    auto it = o.find(key);
    return it == o.end() ? nullptr : it->value().if_array();
}

std::string age(int64_t seconds) {
    if (seconds < 120) return std::to_string(seconds) + "s";
    if (seconds < 7200) return std::to_string(seconds / 60) + "m";
    if (seconds < 172800) return std::to_string(seconds / 3600) + "h";
    return std::to_string(seconds / 86400) + "d";
}

std::string size(int64_t bytes) {
    char buf[32];
    if (bytes < 10000) return std::to_string(bytes);
    if (bytes < 10000 * 1024) std::snprintf(buf, sizeof buf, "%.1fK", bytes / 1024.0);
    else std::snprintf(buf, sizeof buf, "%.1fM", bytes / (1024.0 * 1024.0));
    return buf;
}

std::string sender(const json::object& m) {
    std::string s = str(m, "sender", 60);
    return s.empty() ? "<>" : s;
}

std::string next_attempt(const json::object& m) {
    auto it = m.find("next_attempt");
    if (it == m.end() || !it->value().is_string()) {
        std::string state = str(m, "state");
        return state == "queued" ? "now" : "-";
    }
    return str(m, "next_attempt");
}

std::string fit(std::string s, size_t width) {
    if (s.size() > width) s = s.substr(0, width - 1) + "~";
    s.resize(width, ' ');
    return s;
}

std::string recipients_cell(const json::object& m) {
    const json::array* rcpts = arr(m, "recipients");
    if (!rcpts || rcpts->empty()) return "-";
    std::string first = rcpts->front().is_object() ? str(rcpts->front().get_object(), "address", 60) : "?";
    if (rcpts->size() > 1) first += " (+" + std::to_string(rcpts->size() - 1) + ")";
    return first;
}

// Folded header lines start with a tab: keep it readable, escape everything else.
std::string escape_keeping_tabs(std::string_view line) {
    std::string out;
    size_t start = 0;
    for (;;) {
        size_t tab = line.find('\t', start);
        out += base::escape_for_log(line.substr(start, tab - start), 4096);
        if (tab == std::string_view::npos) return out;
        out += '\t';
        start = tab + 1;
    }
}

}  // namespace

void print_list_header(std::ostream& out) {
    out << fit("ID", 15) << fit("AGE", 6) << fit("SIZE", 8) << fit("SENDER", 29)
        << fit("RECIPIENTS", 33) << fit("STATE", 9) << fit("NEXT ATTEMPT", 21) << "LAST ERROR\n";
}

void print_list_row(std::ostream& out, const json::object& m) {
    std::string error = str(m, "last_error", 80);
    out << fit(str(m, "id"), 15) << fit(age(num(m, "age_seconds")), 6) << fit(size(num(m, "size")), 8)
        << fit(sender(m), 29) << fit(recipients_cell(m), 33)
        << fit(str(m, "state") + (flag(m, "is_bounce") ? "*" : ""), 9) << fit(next_attempt(m), 21)
        << (error.empty() ? "-" : error) << "\n";
}

void print_list_footer(std::ostream& out, uint64_t shown, uint64_t total,
                       const std::string& next_after, size_t limit, const std::string& domain,
                       const std::string& state) {
    if (total == 0) {
        out << "The queue is empty." << std::endl;
        return;
    }
    out << shown << " message(s) shown, " << total << " in the queue";
    out << (shown > 0 ? " (* = a bounce petrel generated)." : ".") << "\n";
    if (!next_after.empty()) {
        out << "Next page: petrel queue list --after " << next_after;
        if (limit != 100) out << " --limit " << limit;
        if (!domain.empty()) out << " --domain " << base::escape_for_log(domain, 255);
        if (!state.empty()) out << " --state " << state;
        out << "   (or --all for everything)\n";
    }
    out << std::flush;
}

void print_message(std::ostream& out, const json::object& m) {
    out << "ID:          " << str(m, "id") << (flag(m, "is_bounce") ? "  (bounce)" : "") << "\n"
        << "Created:     " << str(m, "created") << " (" << age(num(m, "age_seconds")) << " ago)\n"
        << "Size:        " << num(m, "size") << " bytes\n"
        << "State:       " << str(m, "state") << ", " << num(m, "attempts")
        << " attempt(s), next attempt " << next_attempt(m) << "\n";
    std::string error = str(m, "last_error", 400);
    if (!error.empty()) out << "Last error:  " << error << "\n";
    out << "Sender:      <" << str(m, "sender") << ">\n";

    const json::object* env = obj(m, "envelope");
    if (const json::object* p = env ? obj(*env, "params") : nullptr) {
        out << "Parameters:  BODY=" << str(*p, "body");
        if (p->contains("size") && (*p).at("size").is_number()) out << " SIZE=" << num(*p, "size");
        if (flag(*p, "smtputf8")) out << " SMTPUTF8";
        if (p->contains("ret") && p->at("ret").is_string()) out << " RET=" << str(*p, "ret");
        if (!str(*p, "envid").empty()) out << " ENVID=" << str(*p, "envid");
        if (!str(*p, "auth").empty()) out << " AUTH=" << str(*p, "auth");
        out << "\n";
    }
    out << "Recipients:\n";
    const json::array* rcpts = arr(m, "recipients");
    const json::array* env_rcpts = env ? arr(*env, "recipients") : nullptr;
    for (size_t i = 0; rcpts && i < rcpts->size(); ++i) {
        if (!(*rcpts)[i].is_object()) continue;
        const json::object& r = (*rcpts)[i].get_object();
        out << "  " << str(r, "address") << "  " << str(r, "state") << ", " << num(r, "attempts")
            << " attempt(s)";
        if (env_rcpts && i < env_rcpts->size() && (*env_rcpts)[i].is_object()) {
            const json::object& e = (*env_rcpts)[i].get_object();
            if (const json::array* notify = arr(e, "notify"); notify && !notify->empty()) {
                out << ", NOTIFY=";
                for (size_t k = 0; k < notify->size(); ++k) {
                    out << (k ? "," : "")
                        << ((*notify)[k].is_string() ? std::string((*notify)[k].get_string()) : "?");
                }
            }
            if (!str(e, "orcpt").empty()) out << ", ORCPT=" << str(e, "orcpt");
        }
        std::string last = str(r, "last_error", 200);
        if (!last.empty()) out << "\n      last error: " << last;
        out << "\n";
    }
    if (const json::object* s = env ? obj(*env, "session") : nullptr) {
        out << "Session:     " << str(*s, "session_id") << " on " << str(*s, "listener") << " from "
            << str(*s, "client_ip") << ":" << num(*s, "client_port") << ", "
            << (flag(*s, "esmtp") ? "EHLO " : "HELO ") << str(*s, "helo");
        if (flag(*s, "tls")) out << ", " << str(*s, "tls_version") << " " << str(*s, "tls_cipher");
        if (!str(*s, "auth_user").empty()) out << ", authenticated as " << str(*s, "auth_user");
        out << "\n";
    }
    out << "\n";
    // The header block, line by line, each line escaped (it is what the client sent).
    auto it = m.find("headers");
    if (it != m.end() && it->value().is_string()) {
        std::string_view h(it->value().get_string().data(), it->value().get_string().size());
        while (!h.empty()) {
            size_t nl = h.find("\r\n");
            std::string_view line = h.substr(0, nl);
            out << escape_keeping_tabs(line) << "\n";
            if (nl == std::string_view::npos) break;
            h.remove_prefix(nl + 2);
        }
    }
    out << std::flush;
}

}  // namespace petrel::cli
