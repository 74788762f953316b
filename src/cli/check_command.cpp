// cli/check_command.cpp — `petrel check spf` (see check_command.h): one SPF evaluation over
// CaresResolver + CachingResolver on a private io_context (cli/dns_check.h).
#include "cli/check_command.h"

#include <CLI/CLI.hpp>
#include <arpa/inet.h>

#include <ctime>
#include <iostream>
#include <memory>
#include <optional>

#include <boost/json.hpp>

#include "base/escape.h"
#include "cli/check_arc.h"
#include "cli/check_dmarc.h"
#include "cli/command_support.h"
#include "cli/dns_check.h"
#include "mailauth/spf/resolver_check.h"

namespace petrel::cli {

namespace {

namespace spf = mailauth::spf;

struct SpfArgs {
    std::string ip, sender, helo, identity = "mailfrom", dns_server, receiver, config_file;
    bool json = false;
};

[[noreturn]] void fail(const std::string& message, int code = 1) {
    std::cerr << "petrel: " << message << std::endl;
    throw CLI::RuntimeError(code);
}

std::optional<dns::IpAddress> parse_client(const std::string& text) {
    uint8_t b[16];
    if (inet_pton(AF_INET, text.c_str(), b) == 1) return dns::IpAddress::v4_from(b);
    if (inet_pton(AF_INET6, text.c_str(), b) == 1) return dns::IpAddress::v6_from(b);
    return std::nullopt;
}

void run_spf(const SpfArgs& args, const std::function<config::Config()>& load_config) {
    auto ip = parse_client(args.ip);
    if (!ip) fail("--ip: not an IPv4 or IPv6 address: " + base::escape_for_log(args.ip), 2);
    bool helo_identity = args.identity == "helo";
    if (!helo_identity && args.identity != "mailfrom") fail("--identity: mailfrom or helo", 2);
    if (helo_identity && args.helo.empty()) fail("--identity helo needs --helo", 2);
    if (!helo_identity && args.sender.empty() && args.helo.empty()) {
        fail("give --sender, or --helo for the null sender", 2);
    }

    config::Config cfg = args.config_file.empty() ? load_config() : config::load_config(args.config_file);
    spf::Request request;
    request.ip = *ip;
    request.sender = args.sender;
    request.helo = args.helo;
    request.receiver = args.receiver.empty() ? cfg.hostname : args.receiver;
    request.now = static_cast<int64_t>(std::time(nullptr));

    auto outcome = run_dns_check<spf::Outcome>(cfg, args.dns_server, [&](dns::Resolver& resolver) {
        return helo_identity ? spf::check_helo(resolver, request) : spf::check_mail_from(resolver, request);
    });
    if (!outcome) fail("SPF evaluation did not complete");

    const char* result = spf::to_string(outcome->result);
    if (args.json) {
        boost::json::object j;
        j["result"] = result;
        j["identity"] = helo_identity ? "helo" : "mailfrom";
        j["domain"] = outcome->domain;
        j["reason"] = outcome->reason;
        j["explanation"] = outcome->explanation;
        std::cout << boost::json::serialize(j) << std::endl;
    } else {
        std::cout << "spf=" << result << " identity=" << (helo_identity ? "helo" : "mailfrom")
                  << " domain=" << base::escape_for_log(outcome->domain) << " reason=\""
                  << base::escape_for_log(outcome->reason) << "\"";
        if (!outcome->explanation.empty()) {
            std::cout << " explanation=\"" << base::escape_for_log(outcome->explanation, 400) << "\"";
        }
        std::cout << std::endl;
    }
    if (outcome->result != spf::Result::Pass) throw CLI::RuntimeError(1);
}

void add_not_yet(CLI::App& check, const char* kind) {
    CLI::App* sub = check.add_subcommand(kind, std::string("check ") + kind + " (not implemented yet)");
    sub->allow_extras();
    sub->callback([kind] { fail(std::string("check ") + kind + ": not implemented yet", 2); });
}

}  // namespace

void add_check_command(CLI::App& parent, std::function<config::Config()> load_config) {
    CLI::App* check = parent.add_subcommand("check", "check a domain's SPF or DMARC, a message's ARC chain (MX, DKIM and TLS to come)");
    check->require_subcommand(1);

    auto args = std::make_shared<SpfArgs>();
    CLI::App* spf_cmd = check->add_subcommand("spf", "evaluate SPF (RFC 7208) for a client, sender and HELO");
    spf_cmd->add_option("--ip", args->ip, "the SMTP client's IP address")->required();
    spf_cmd->add_option("--sender", args->sender, "MAIL FROM address (empty: the null sender)");
    spf_cmd->add_option("--helo", args->helo, "HELO/EHLO name");
    spf_cmd->add_option("--identity", args->identity, "mailfrom (default) or helo");
    spf_cmd->add_option("--dns", args->dns_server, "DNS server HOST:PORT (default: [dns] servers)");
    spf_cmd->add_option("--receiver", args->receiver, "this host's name for %{r} (default: hostname)");
    add_config_option(*spf_cmd, args->config_file);
    spf_cmd->add_flag("--json", args->json, "print one JSON object");
    spf_cmd->callback([args, load_config] { run_spf(*args, load_config); });

    add_check_dmarc(*check, load_config);
    add_check_arc(*check, load_config);
    for (const char* kind : {"mx", "dkim", "tls"}) add_not_yet(*check, kind);
}

}  // namespace petrel::cli
