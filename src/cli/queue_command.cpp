// cli/queue_command.cpp — see queue_command.h. Every subcommand builds one control request
// (control/protocol.h) and sends it through QueueAccess: to the daemon, or to an in-process
// QueueManager on the spool when no daemon runs. The human output is rendered from the same
// JSON the --json flag prints.
#include "cli/queue_command.h"
#include "cli/command_support.h"

#include <CLI/CLI.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include "base/escape.h"
#include "base/ids.h"
#include "cli/queue_format.h"
#include "control/control_client.h"
#include "control/control_server.h"
#include "control/protocol.h"
#include "queue/file_spool.h"
#include "queue/queue_manager.h"
#include "smtp/sasl.h"

namespace petrel::cli {

namespace json = boost::json;

namespace {

constexpr int kExitNotFound = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnavailable = 3;
constexpr size_t kAllPageSize = 1000;  // --all: small pages keep the daemon's control thread free

struct QueueArgs {
    std::function<config::Config()> load_config;
    std::string config_file;
    bool json = false;
    bool all = false;
    bool raw = false;
    size_t limit = control::kDefaultListLimit;
    std::string after, domain, state, id;
};

// The exit code first reads best at the many call sites below (docs/queue-cli.md codes).
[[noreturn]] void fail_with(int code, const std::string& message) { fail(message, code); }

config::Config load(const QueueArgs& args) {
    // A missing or invalid config file is a usage error here.
    return load_command_config(args.config_file, args.load_config, kExitUsage);
}

// The way to the queue: the daemon's control socket, or the spool itself when no daemon runs.
class QueueAccess {
public:
    explicit QueueAccess(const config::Config& cfg) {
        const std::string path = control::socket_path(cfg.data_dir);
        std::string error;
        switch (client_.connect(path, error)) {
            case control::ConnectStatus::Connected:
                return;
            case control::ConnectStatus::Failed:
                fail_with(kExitUnavailable, "cannot connect to the daemon at " + path + ": " + error);
            case control::ConnectStatus::NoDaemon:
                open_spool(cfg, path, error);
        }
    }

    // The daemon's (or the in-process queue's) response; transport failures exit 3.
    json::object call(const json::object& request) {
        const std::string line = json::serialize(request);
        std::string response, error;
        if (queue_) {
            response = control::handle_line(*queue_, line, control::now_ms());
        } else if (!client_.call(line, response, error)) {
            fail_with(kExitUnavailable, error);
        }
        boost::system::error_code ec;
        json::value v = json::parse(response, ec);
        if (ec || !v.is_object() || !v.get_object().contains("ok")) {
            fail_with(kExitUnavailable, "unreadable response from the daemon");
        }
        return std::move(v.get_object());
    }

private:
    void open_spool(const config::Config& cfg, const std::string& path, const std::string& why) {
        const std::string spool_dir = cfg.data_dir + "/spool";
        std::error_code ec;
        if (!std::filesystem::is_directory(spool_dir, ec)) {
            fail_with(kExitUnavailable, "petrel is not running (" + path + ": " + why +
                                       ") and there is no spool in " + cfg.data_dir);
        }
        // The queue's own log lines go to stderr, so stdout stays the command's output.
        auto logger = spdlog::stderr_logger_st("petrel-queue");
        logger->set_level(spdlog::level::warn);
        spdlog::set_default_logger(logger);
        try {
            spool_ = std::make_unique<queue::FileSpool>(queue::FileSpoolOptions{cfg.data_dir});
        } catch (const std::exception& e) {
            // Typically the spool lock: a daemon runs but its control socket does not answer.
            fail_with(kExitUnavailable, "the daemon does not answer on " + path + " (" + why +
                                       ") and the spool cannot be opened: " + e.what());
        }
        queue_ = std::make_unique<queue::QueueManager>(*spool_);
        queue_->recover();
    }

    control::ControlClient client_;
    std::unique_ptr<queue::FileSpool> spool_;
    std::unique_ptr<queue::QueueManager> queue_;
};

// Exits with the code the protocol's error maps to; returns the response when it is ok.
json::object checked(json::object response) {
    if (response["ok"].is_bool() && response["ok"].get_bool()) return response;
    std::string code, message = "request failed";
    if (auto* err = response["error"].if_object()) {
        if (auto* c = (*err)["code"].if_string()) code = std::string(*c);
        if (auto* m = (*err)["message"].if_string()) message = std::string(*m);
    }
    const int exit_code = code == "not_found"         ? kExitNotFound
                          : code == "invalid_request" ? kExitUsage
                                                      : kExitUnavailable;
    fail_with(exit_code, base::escape_for_log(message, 400));
}

void check_id(const std::string& id) {
    if (!base::is_valid_queue_id(id)) {
        fail_with(kExitUsage, "invalid queue ID '" + base::escape_for_log(id, 40) +
                             "': 14 characters of lower-case base32, as in 'queued as ID'");
    }
}

json::object request(const char* command) {
    json::object r;
    r["command"] = command;
    return r;
}

void print_json(const json::value& v) { std::cout << json::serialize(v) << std::endl; }

void run_list(const QueueArgs& args) {
    if (!args.after.empty()) check_id(args.after);
    QueueAccess access(load(args));
    json::object req = request("list");
    if (!args.domain.empty()) req["domain"] = args.domain;
    if (!args.state.empty()) req["state"] = args.state;
    req["limit"] = args.all ? kAllPageSize : args.limit;
    std::string after = args.after;

    json::array all_messages;
    uint64_t shown = 0;
    bool header_printed = false;
    for (;;) {
        if (!after.empty()) req["after"] = after;
        json::object page = checked(access.call(req));
        json::array& messages = page["messages"].as_array();
        json::value next = page["next_after"];
        const uint64_t total = page["total"].to_number<uint64_t>();
        shown += messages.size();
        if (!args.json) {
            if (!header_printed && !messages.empty()) print_list_header(std::cout);
            header_printed = header_printed || !messages.empty();
            for (const json::value& m : messages) print_list_row(std::cout, m.as_object());
        } else if (args.all) {
            for (json::value& m : messages) all_messages.push_back(std::move(m));
        }
        const bool more = next.is_string();
        if (args.all && more) {
            after = std::string(next.get_string());
            continue;
        }
        if (args.json) {
            json::object out;
            out["total"] = total;
            out["next_after"] = args.all ? json::value(nullptr) : next;
            out["messages"] = args.all ? std::move(all_messages) : std::move(messages);
            print_json(out);
            return;
        }
        print_list_footer(std::cout, shown, total, more ? std::string(next.get_string()) : "",
                          args.limit, args.domain, args.state);
        return;
    }
}

void run_show(const QueueArgs& args) {
    check_id(args.id);
    QueueAccess access(load(args));
    json::object req = request("show");
    req["id"] = args.id;
    if (args.raw) req["raw"] = true;
    json::object response = checked(access.call(req));
    json::object& message = response["message"].as_object();
    if (args.raw) {
        const json::string* b64 = message["message_base64"].if_string();
        std::optional<std::string> bytes =
            b64 ? smtp::base64_decode(std::string_view(b64->data(), b64->size())) : std::nullopt;
        if (!bytes) fail_with(kExitUnavailable, "the daemon sent no readable message bytes");
        std::fwrite(bytes->data(), 1, bytes->size(), stdout);
        std::fflush(stdout);
        return;
    }
    if (args.json) {
        print_json(message);
        return;
    }
    print_message(std::cout, message);
}

// hold, release, delete, flush: {"ok":true,"affected":N}.
void run_mutation(const QueueArgs& args, const char* command) {
    json::object req = request(command);
    const std::string what = command;
    if (what == "delete" && !args.id.empty() == !args.domain.empty()) {
        fail_with(kExitUsage, "queue delete: give either an ID or --domain DOMAIN");
    }
    if (!args.id.empty()) {
        check_id(args.id);
        req["id"] = args.id;
    } else if (what == "delete") {
        req["domain"] = args.domain;
    } else {
        req["all"] = true;  // flush with no ID
    }
    QueueAccess access(load(args));
    json::object response = checked(access.call(req));
    if (args.json) {
        print_json(response);
        return;
    }
    const uint64_t n = response["affected"].to_number<uint64_t>();
    const std::string done = what == "hold"      ? "held"
                             : what == "release" ? "released"
                             : what == "delete"  ? "deleted"
                                                 : "flushed (due now)";
    if (what == "flush" && args.id.empty()) {
        std::cout << n << " message(s) " << done << std::endl;
    } else if (what == "delete" && !args.domain.empty()) {
        std::cout << n << " message(s) with a recipient in " << args.domain << " deleted" << std::endl;
    } else if (what == "flush" && n == 0) {
        std::cout << "message " << args.id << " was not flushed (on hold? release it first)"
                  << std::endl;
    } else {
        std::cout << "message " << args.id << " " << done << std::endl;
    }
}

void add_common(CLI::App& app, QueueArgs& args, bool json_flag = true) {
    add_config_option(app, args.config_file);
    if (json_flag) app.add_flag("--json", args.json, "print JSON (docs/queue-cli.md)");
}

}  // namespace

CLI::App* add_queue_command(CLI::App& parent, std::function<config::Config()> load_config) {
    auto args = std::make_shared<QueueArgs>();
    args->load_config = std::move(load_config);

    CLI::App* queue = parent.add_subcommand("queue", "inspect and control the queue");
    queue->require_subcommand(1);
    add_common(*queue, *args, false);

    CLI::App* list = queue->add_subcommand("list", "list queued messages, oldest first, paged");
    add_common(*list, *args);
    list->add_option("--limit", args->limit, "messages per page (default 100)")
        ->check(CLI::Range(size_t{1}, control::kMaxListLimit));
    list->add_option("--after", args->after, "start after this queue ID (the next page)");
    list->add_option("--domain", args->domain, "only messages with a recipient in DOMAIN");
    list->add_option("--state", args->state, "only queued|deferred|held|captured|done")
        ->check(CLI::IsMember({"queued", "deferred", "held", "captured", "done"}));
    list->add_flag("--all", args->all, "every message, page after page");
    list->callback([args] { run_list(*args); });

    CLI::App* show = queue->add_subcommand("show", "show a message's envelope and headers");
    add_common(*show, *args);
    show->add_option("ID", args->id, "queue ID")->required();
    show->add_flag("--raw", args->raw, "write the whole message, byte-exact, to stdout");
    show->callback([args] { run_show(*args); });

    for (const char* name : {"hold", "release", "delete", "flush"}) {
        const std::string n = name;
        const char* help = n == "hold"      ? "hold a message: never delivered until released"
                           : n == "release" ? "release a held message"
                           : n == "delete"  ? "delete a message, or every message for --domain"
                                            : "make a message (or, without ID, every one) due now";
        CLI::App* sub = queue->add_subcommand(name, help);
        add_common(*sub, *args);
        CLI::Option* id = sub->add_option("ID", args->id, "queue ID");
        if (n == "hold" || n == "release") id->required();
        if (n == "delete") {
            sub->add_option("--domain", args->domain, "every message with a recipient in DOMAIN");
        }
        sub->callback([args, name] { run_mutation(*args, name); });
    }
    return queue;
}

}  // namespace petrel::cli
