// control/protocol.cpp — see protocol.h. Request parsing (untrusted bytes, size-limited first),
// dispatch to queue::QueueManager, and the JSON shapes of docs/queue-cli.md.
#include "control/protocol.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <ctime>
#include <exception>

#include "base/ids.h"
#include "control/message_json.h"
#include "mail/domain.h"
#include "smtp/sasl.h"

namespace petrel::control {

namespace json = boost::json;

namespace {

Error invalid(std::string message) { return Error{ErrorCode::InvalidRequest, std::move(message)}; }

std::optional<Command> command_from(std::string_view name) {
    if (name == "list") return Command::List;
    if (name == "show") return Command::Show;
    if (name == "hold") return Command::Hold;
    if (name == "release") return Command::Release;
    if (name == "delete") return Command::Delete;
    if (name == "flush") return Command::Flush;
    return std::nullopt;
}

// Which fields each command accepts; anything else is refused (a typo must not silently widen a
// delete or a flush).
bool field_allowed(Command c, std::string_view key) {
    if (key == "command") return true;
    switch (c) {
        case Command::List:
            return key == "after" || key == "limit" || key == "domain" || key == "state";
        case Command::Show:
            return key == "id" || key == "raw";
        case Command::Hold:
        case Command::Release:
            return key == "id";
        case Command::Delete:
            return key == "id" || key == "domain";
        case Command::Flush:
            return key == "id" || key == "all";
    }
    return false;
}

std::optional<Error> get_string(const json::object& o, std::string_view key, std::string& out) {
    auto it = o.find(key);
    if (it == o.end()) return std::nullopt;
    if (!it->value().is_string()) return invalid(std::string(key) + " must be a string");
    out = std::string(it->value().get_string());
    return std::nullopt;
}

std::optional<Error> get_bool(const json::object& o, std::string_view key, bool& out) {
    auto it = o.find(key);
    if (it == o.end()) return std::nullopt;
    if (!it->value().is_bool()) return invalid(std::string(key) + " must be true or false");
    out = it->value().get_bool();
    return std::nullopt;
}

std::optional<Error> check_id(const std::string& id, std::string_view what) {
    if (base::is_valid_queue_id(id)) return std::nullopt;
    return invalid(std::string(what) + " is not a queue ID (14 characters of lower-case base32)");
}

// Domains are compared in the form the envelope keeps: lower-case A-labels or a literal.
std::optional<Error> normalize(std::string& domain) {
    if (!domain.empty() && domain.front() == '[') {
        auto literal = mail::normalize_address_literal(domain);
        if (!literal) return invalid("domain is not a valid address literal");
        domain = *literal;
        return std::nullopt;
    }
    mail::DomainResult r = mail::normalize_domain(domain, /*allow_utf8=*/true);
    if (!r.ok()) return invalid("domain is not a valid domain name");
    domain = r.domain;
    return std::nullopt;
}

std::optional<Error> parse_list(const json::object& o, Request& r) {
    if (auto e = get_string(o, "after", r.query.after_id)) return e;
    if (!r.query.after_id.empty()) {
        if (auto e = check_id(r.query.after_id, "after")) return e;
    }
    r.query.limit = kDefaultListLimit;
    if (auto it = o.find("limit"); it != o.end()) {
        const json::value& v = it->value();
        if (!v.is_int64() && !v.is_uint64()) return invalid("limit must be an integer");
        // A uint64 here is above INT64_MAX: out of range like any other large number.
        int64_t n = v.is_int64() ? v.get_int64() : INT64_MAX;
        if (n < 1 || n > static_cast<int64_t>(kMaxListLimit)) {
            return invalid("limit must be between 1 and " + std::to_string(kMaxListLimit));
        }
        r.query.limit = static_cast<size_t>(n);
    }
    if (auto e = get_string(o, "domain", r.domain)) return e;
    if (!r.domain.empty()) {
        if (auto e = normalize(r.domain)) return e;
    }
    r.query.recipient_domain = r.domain;
    std::string state;
    if (auto e = get_string(o, "state", state)) return e;
    if (!state.empty()) {
        r.query.state = message_state_from(state);
        if (!r.query.state) return invalid("state must be queued, deferred, held, captured or done");
    }
    return std::nullopt;
}

std::optional<Error> parse_target(const json::object& o, Request& r) {
    if (auto e = get_string(o, "id", r.id)) return e;
    switch (r.command) {
        case Command::Show:
            if (auto e = get_bool(o, "raw", r.raw)) return e;
            [[fallthrough]];
        case Command::Hold:
        case Command::Release:
            if (!o.contains("id")) return invalid("id is required");
            return check_id(r.id, "id");
        case Command::Delete: {
            if (auto e = get_string(o, "domain", r.domain)) return e;
            if (o.contains("id") == o.contains("domain")) return invalid("give either id or domain");
            if (o.contains("id")) return check_id(r.id, "id");
            return normalize(r.domain);
        }
        case Command::Flush: {
            bool all = false;
            if (auto e = get_bool(o, "all", all)) return e;
            if (o.contains("id") == all) return invalid("give either id or \"all\":true");
            if (o.contains("id")) return check_id(r.id, "id");
            return std::nullopt;
        }
        case Command::List:
            break;
    }
    return std::nullopt;
}

json::object ok_response() {
    json::object o;
    o["ok"] = true;
    return o;
}

json::object affected(uint64_t n) {
    json::object o = ok_response();
    o["affected"] = n;
    return o;
}

json::object from_result(queue::ControlResult r, const std::string& id) {
    switch (r) {
        case queue::ControlResult::Ok:
            return affected(1);
        case queue::ControlResult::NotFound:
            return error_response({ErrorCode::NotFound, "no message " + id + " in the queue"});
        case queue::ControlResult::Invalid:
            return error_response(invalid("not possible for message " + id + " in its state"));
        case queue::ControlResult::IoError:
            break;
    }
    return error_response({ErrorCode::IoError, "the spool could not be updated for " + id +
                                                   " (see the daemon log)"});
}

json::object not_found(const std::string& id) {
    return error_response({ErrorCode::NotFound, "no message " + id + " in the queue"});
}

json::object run_list(queue::QueueManager& q, const Request& r, int64_t now) {
    queue::ListPage page = q.list(r.query);
    json::object o = ok_response();
    o["total"] = page.total;
    if (page.next_after.empty()) o["next_after"] = nullptr;
    else o["next_after"] = page.next_after;
    json::array messages;
    messages.reserve(page.messages.size());
    for (const queue::MessageInfo& m : page.messages) messages.push_back(message_json(m, now));
    o["messages"] = std::move(messages);
    return o;
}

json::object run_show(queue::QueueManager& q, const Request& r, int64_t now) {
    std::optional<queue::MessageInfo> info = q.info(r.id);
    if (!info) return not_found(r.id);
    std::optional<queue::SpoolEntry> entry = q.entry(r.id);
    std::optional<std::string> message = q.message(r.id);
    if (!entry || !message) return not_found(r.id);  // removed meanwhile (delivered, deleted)
    json::object m = message_json(*info, now);
    m["envelope"] = envelope_json(entry->envelope);
    m["headers"] = utf8_or_replacement(header_block(*message));
    if (r.raw) m["message_base64"] = smtp::base64_encode(*message);
    json::object o = ok_response();
    o["message"] = std::move(m);
    return o;
}

}  // namespace

std::string_view to_string(ErrorCode code) {
    switch (code) {
        case ErrorCode::NotFound:
            return "not_found";
        case ErrorCode::InvalidRequest:
            return "invalid_request";
        case ErrorCode::IoError:
            return "io_error";
    }
    return "io_error";
}

std::variant<Request, Error> parse_request(std::string_view line) {
    if (line.size() > kMaxRequestBytes) {
        return invalid("request longer than " + std::to_string(kMaxRequestBytes) + " bytes");
    }
    boost::system::error_code ec;
    json::parse_options options;
    options.max_depth = 8;  // requests are flat objects
    json::value v = json::parse(json::string_view(line.data(), line.size()), ec, {}, options);
    if (ec) return invalid("request is not valid JSON: " + ec.message());
    if (!v.is_object()) return invalid("request must be a JSON object");
    const json::object& o = v.get_object();
    std::string name;
    if (auto e = get_string(o, "command", name)) return *e;
    std::optional<Command> command = command_from(name);
    if (!command) {
        return invalid(o.contains("command") ? "unknown command" : "command is required");
    }
    Request r;
    r.command = *command;
    for (const auto& kv : o) {
        if (!field_allowed(r.command, kv.key())) {
            return invalid("unknown field \"" + utf8_or_replacement(std::string(kv.key()).substr(0, 64)) +
                           "\" for " + name);
        }
    }
    std::optional<Error> e = r.command == Command::List ? parse_list(o, r) : parse_target(o, r);
    if (e) return *e;
    return r;
}

json::object execute(queue::QueueManager& q, const Request& r, int64_t now) {
    switch (r.command) {
        case Command::List:
            return run_list(q, r, now);
        case Command::Show:
            return run_show(q, r, now);
        case Command::Hold:
            return from_result(q.hold(r.id), r.id);
        case Command::Release:
            return from_result(q.release(r.id), r.id);
        case Command::Delete:
            if (!r.id.empty()) return from_result(q.remove(r.id), r.id);
            return affected(q.remove_by_recipient_domain(r.domain));
        case Command::Flush:
            if (r.id.empty()) return affected(q.flush(""));
            if (!q.info(r.id)) return not_found(r.id);
            return affected(q.flush(r.id));
    }
    return error_response(invalid("unknown command"));
}

std::string handle_line(queue::QueueManager& q, std::string_view line, int64_t now) {
    std::variant<Request, Error> parsed = parse_request(line);
    if (auto* e = std::get_if<Error>(&parsed)) return to_line(error_response(*e));
    try {
        return to_line(execute(q, std::get<Request>(parsed), now));
    } catch (const std::exception& ex) {
        // The queue reports expected failures as values; this is the boundary's last resort
        // (e.g. bad_alloc on a huge message), so one bad request cannot end the daemon.
        return to_line(error_response({ErrorCode::IoError, ex.what()}));
    }
}

json::object error_response(const Error& error) {
    json::object detail;
    detail["code"] = to_string(error.code);
    detail["message"] = error.message;
    json::object o;
    o["ok"] = false;
    o["error"] = std::move(detail);
    return o;
}

std::string to_line(const json::object& response) { return json::serialize(response); }

int64_t now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

}  // namespace petrel::control
