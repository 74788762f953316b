// cli/check_dmarc.cpp — `petrel check dmarc` (see check_dmarc.h): one DMARC evaluation over
// CaresResolver + CachingResolver on a private io_context (cli/dns_check.h).
#include "cli/check_dmarc.h"

#include <CLI/CLI.hpp>

#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <random>

#include <boost/json.hpp>

#include "base/escape.h"
#include "cli/command_support.h"
#include "cli/dns_check.h"
#include "mailauth/dmarc/dmarc.h"

namespace petrel::cli {

namespace {

namespace dmarc = mailauth::dmarc;

constexpr size_t kMaxMessageRead = 1 << 20;  // the header section is all that matters

struct DmarcArgs {
    std::string from_domain, message_file, spf_domain, dns_server, config_file;
    std::vector<std::string> dkim_pass;
    bool spf_pass = false, json = false;
    int sample = -1;
};

std::string from_message_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail("--message: cannot open " + base::escape_for_log(path), 2);
    std::string text(kMaxMessageRead, '\0');
    in.read(text.data(), static_cast<std::streamsize>(text.size()));
    text.resize(static_cast<size_t>(in.gcount()));
    dmarc::AuthorDomain author = dmarc::author_domain(text);
    if (!author.error.empty()) fail("--message: " + author.error);
    return author.domain;
}

void run_dmarc(const DmarcArgs& args, const std::function<config::Config()>& load_config) {
    if (args.from_domain.empty() == args.message_file.empty()) fail("give one of --from-domain or --message", 2);
    if (args.spf_pass && args.spf_domain.empty()) fail("--spf-pass needs --spf-domain", 2);
    if (args.sample > 99) fail("--sample: 0..99", 2);

    dmarc::Inputs inputs;
    inputs.from_domain = args.message_file.empty() ? args.from_domain : from_message_file(args.message_file);
    inputs.spf_pass = args.spf_pass;
    inputs.spf_domain = args.spf_domain;
    for (const auto& d : args.dkim_pass) inputs.dkim.push_back({d});
    unsigned sample = args.sample >= 0 ? static_cast<unsigned>(args.sample)
                                       : static_cast<unsigned>(std::random_device{}() % 100);

    config::Config cfg = load_command_config(args.config_file, load_config);
    auto ev = run_dns_check<dmarc::Evaluation>(cfg, args.dns_server, [&](dns::Resolver& resolver) {
        return dmarc::evaluate_with_dns(resolver, inputs, sample);
    });
    if (!ev) fail("DMARC evaluation did not complete");

    if (args.json) {
        boost::json::object j;
        j["result"] = dmarc::to_string(ev->result);
        j["policy"] = dmarc::to_string(ev->policy);
        j["disposition"] = dmarc::to_string(ev->disposition);
        j["header_from"] = ev->header_from;
        j["policy_domain"] = ev->policy_domain;
        j["spf_aligned"] = ev->spf_aligned;
        j["dkim_aligned"] = ev->dkim_aligned;
        j["sample"] = sample;
        j["reason"] = ev->detail;
        std::cout << boost::json::serialize(j) << std::endl;
    } else {
        std::cout << "dmarc=" << dmarc::to_string(ev->result) << " policy=" << dmarc::to_string(ev->policy)
                  << " disposition=" << dmarc::to_string(ev->disposition)
                  << " header.from=" << base::escape_for_log(ev->header_from)
                  << " policy.domain=" << base::escape_for_log(ev->policy_domain)
                  << " spf_aligned=" << (ev->spf_aligned ? "yes" : "no")
                  << " dkim_aligned=" << (ev->dkim_aligned ? "yes" : "no") << " reason=\""
                  << base::escape_for_log(ev->detail) << "\"" << std::endl;
    }
    if (ev->result != dmarc::Result::Pass) throw CLI::RuntimeError(1);
}

}  // namespace

void add_check_dmarc(CLI::App& check, std::function<config::Config()> load_config) {
    auto args = std::make_shared<DmarcArgs>();
    CLI::App* cmd = check.add_subcommand("dmarc", "evaluate DMARC (RFC 7489) for an author domain and SPF/DKIM outcomes");
    cmd->add_option("--from-domain", args->from_domain, "the RFC5322.From domain");
    cmd->add_option("--message", args->message_file, "read the From domain from this message file");
    cmd->add_flag("--spf-pass", args->spf_pass, "SPF passed for --spf-domain");
    cmd->add_option("--spf-domain", args->spf_domain, "MAIL FROM (or HELO) domain SPF checked");
    cmd->add_option("--dkim-pass", args->dkim_pass, "d= of a DKIM signature that passed (repeatable)");
    cmd->add_option("--sample", args->sample, "pct= draw 0..99 (default: random)");
    cmd->add_option("--dns", args->dns_server, "DNS server HOST:PORT (default: [dns] servers)");
    add_config_option(*cmd, args->config_file);
    cmd->add_flag("--json", args->json, "print one JSON object");
    cmd->callback([args, load_config] { run_dmarc(*args, load_config); });
}

}  // namespace petrel::cli
