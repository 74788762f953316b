// cli/check_arc.cpp — `petrel check arc` (see check_arc.h): one ARC chain validation over
// CaresResolver + CachingResolver on a private io_context (cli/dns_check.h).
#include "cli/check_arc.h"

#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include <boost/json.hpp>

#include "base/escape.h"
#include "cli/command_support.h"
#include "cli/dns_check.h"
#include "mailauth/arc/verifier.h"
#include "mailauth/header_parser.h"

namespace petrel::cli {

namespace {

namespace arc = mailauth::arc;

constexpr size_t kMaxMessageRead = 64u << 20;

struct ArcArgs {
    std::string message_file, dns_server, config_file;
    uint64_t now = 0;
    bool json = false;
};

void run_arc(const ArcArgs& args, const std::function<config::Config()>& load_config) {
    std::ifstream in(args.message_file, std::ios::binary);
    if (!in) fail("cannot open " + base::escape_for_log(args.message_file), 2);
    std::string text(kMaxMessageRead, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
    std::string message = mailauth::to_crlf(text);

    config::Config cfg = load_command_config(args.config_file, load_config);
    arc::VerifyOptions options;
    options.now = args.now;
    auto report = run_dns_check<arc::ChainReport>(cfg, args.dns_server, [&](dns::Resolver& resolver) {
        return arc::verify_with_dns(resolver, std::move(message), options);
    });
    if (!report) fail("ARC validation did not complete");

    std::string domains;
    for (const auto& d : report->ams_domains) domains += (domains.empty() ? "" : ",") + base::escape_for_log(d);
    if (args.json) {
        boost::json::object j;
        j["result"] = arc::to_string(report->result);
        j["instances"] = report->instances;
        j["oldest_pass"] = report->oldest_pass;
        boost::json::array ams;
        for (const auto& d : report->ams_domains) ams.emplace_back(base::escape_for_log(d));
        j["ams_domains"] = std::move(ams);
        j["temporary"] = report->temporary;
        j["reason"] = base::escape_for_log(report->detail);
        std::cout << boost::json::serialize(j) << std::endl;
    } else {
        std::cout << "arc=" << arc::to_string(report->result) << " instances=" << report->instances
                  << " oldest_pass=" << report->oldest_pass << " ams.d=" << domains
                  << (report->temporary ? " temporary=yes" : "") << " reason=\""
                  << base::escape_for_log(report->detail) << "\"" << std::endl;
    }
    if (report->result != arc::ChainResult::Pass) throw CLI::RuntimeError(1);
}

}  // namespace

void add_check_arc(CLI::App& check, std::function<config::Config()> load_config) {
    auto args = std::make_shared<ArcArgs>();
    CLI::App* cmd = check.add_subcommand("arc", "validate a message's ARC chain (RFC 8617) against DNS");
    cmd->add_option("file", args->message_file, "the message (RFC 5322; LF or CRLF line ends)")->required();
    cmd->add_option("--dns", args->dns_server, "DNS server HOST:PORT (default: [dns] servers)");
    cmd->add_option("--now", args->now, "Unix time for AMS x= (default: not checked)");
    add_config_option(*cmd, args->config_file);
    cmd->add_flag("--json", args->json, "print one JSON object");
    cmd->callback([args, load_config] { run_arc(*args, load_config); });
}

}  // namespace petrel::cli
