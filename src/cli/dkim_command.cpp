// cli/dkim_command.cpp — see dkim_command.h.
#include "cli/dkim_command.h"
#include "cli/command_support.h"

#include <CLI/CLI.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "config/values.h"
#include "dns/cares_resolver.h"
#include "mailauth/dkim/dns_verify.h"
#include "mailauth/dkim/key_store.h"
#include "mailauth/dkim/verifier.h"
#include "mailauth/header_parser.h"

namespace petrel::cli {

namespace {

namespace dkim = mailauth::dkim;

struct DkimArgs {
    std::function<config::Config()> load_config;
    std::string config_file;
    std::string domain;
    std::string selector;
    std::string type = "rsa";
    unsigned bits = dkim::kDefaultRsaBits;
    std::string canonicalization;
    int64_t expiration = -1;
    std::string dns_server;
    std::string key_file;
    int64_t now = -1;
};

config::Config load(const DkimArgs& args) {
    return load_command_config(args.config_file, args.load_config);
}

std::string checked_domain(const std::string& raw) {
    std::string err;
    auto d = config::normalize_domain(raw, err);
    if (!d || !dkim::is_dns_name(*d)) fail("invalid domain '" + raw + "'" + (err.empty() ? "" : ": " + err));
    return *d;
}

std::string checked_selector(const std::string& raw) {
    std::string s = mailauth::to_lower(raw);
    if (!dkim::is_dns_name(s)) fail("invalid selector '" + raw + "': letters, digits, '-', '_' and dots");
    return s;
}

uint64_t now_seconds(const DkimArgs& args) {
    if (args.now >= 0) return static_cast<uint64_t>(args.now);
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

std::string read_stdin() {
    std::string s((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    return mailauth::to_crlf(s);
}

void run_keygen(const DkimArgs& args) {
    std::string domain = checked_domain(args.domain);
    std::string selector = checked_selector(args.selector);
    dkim::KeyType type;
    if (args.type == "rsa") type = dkim::KeyType::Rsa;
    else if (args.type == "ed25519") type = dkim::KeyType::Ed25519;
    else fail("--type must be rsa or ed25519");
    if (type == dkim::KeyType::Rsa && (args.bits < dkim::kMinRsaBits || args.bits > dkim::kMaxRsaBits)) {
        fail("--bits must be between 1024 and 4096 (RFC 8301: at least 1024; 2048 is the default)");
    }
    config::Config cfg = load(args);
    dkim::PKey key = dkim::generate_key(type, args.bits);
    if (!key) fail("key generation failed");
    std::string path = dkim::key_path(cfg.data_dir, domain, selector, type);
    std::string error;
    if (!dkim::write_private_key(path, dkim::private_key_pem(key.get()), error)) fail(error);
    std::cout << "private key: " << path << "\n"
              << "publish this DNS record, then mail from " << domain << " is signed with it:\n"
              << dkim::dns_txt_line(selector, domain, dkim::public_key_record(key.get())) << std::endl;
}

void run_show(const DkimArgs& args) {
    std::string domain = checked_domain(args.domain);
    config::Config cfg = load(args);
    auto keys = dkim::list_keys(cfg.data_dir, domain);
    if (keys.empty()) fail("no DKIM key for " + domain + " under " + dkim::key_directory(cfg.data_dir, domain));
    int shown = 0;
    for (const auto& k : keys) {
        std::string error;
        dkim::PKey key = dkim::load_private_key(k.path, error);
        if (!key) {
            std::cerr << "petrel: " << error << "\n";
            continue;
        }
        std::cout << dkim::dns_txt_line(k.selector, k.domain, dkim::public_key_record(key.get())) << "\n";
        ++shown;
    }
    std::cout << std::flush;
    if (shown == 0) throw CLI::RuntimeError(1);
}

void run_sign(const DkimArgs& args) {
    config::Config cfg = load(args);
    if (!args.canonicalization.empty()) {
        cfg.dkim.canonicalization = args.canonicalization;
        for (auto& d : cfg.dkim.domains) d.canonicalization.clear();
    }
    if (args.expiration >= 0) cfg.dkim.expiration = std::chrono::seconds(args.expiration);
    std::string domain = args.domain.empty() ? std::string() : checked_domain(args.domain);
    if (!args.selector.empty()) {
        if (domain.empty()) fail("--selector needs --domain");
        config::DkimDomain only;
        only.domain = domain;
        only.selectors = {checked_selector(args.selector)};
        std::erase_if(cfg.dkim.domains, [&](const config::DkimDomain& d) { return d.domain == domain; });
        cfg.dkim.domains.push_back(only);
    }
    cfg.dkim.enabled = true;
    dkim::SigningKeys keys = dkim::load_signing_keys(cfg.data_dir, cfg.dkim);
    for (const auto& e : keys.errors) std::cerr << "petrel: " << e << "\n";
    for (const auto& w : keys.warnings) std::cerr << "petrel: " << w << "\n";
    std::string message = read_stdin();
    dkim::SignOutcome out;
    if (domain.empty()) {
        if (!keys.find(dkim::from_domain(message))) fail("no DKIM key for the From domain of the message");
        out = dkim::sign_outbound(keys, message, now_seconds(args));
    } else {
        const dkim::DomainSigner* s = keys.find(domain);
        if (!s || s->domain != domain) fail("no DKIM key for " + domain);
        out = dkim::sign_message(message, s->keys, s->options, now_seconds(args));
    }
    if (!out.ok()) fail(out.error);
    std::cout << out.header << message << std::flush;
}

// --key-file: lines "selector._domainkey.domain<whitespace>TXT-value"; '#' comments.
dkim::KeyFetcher key_file_fetcher(const std::string& path) {
    std::ifstream in(path);
    if (!in) fail("cannot read " + path);
    auto zone = std::make_shared<std::map<std::string, dkim::KeyLookup>>();
    std::string line;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        size_t sp = line.find_first_of(" \t");
        if (line.empty() || line[0] == '#' || sp == std::string::npos) continue;
        std::string name = mailauth::to_lower(line.substr(0, sp));
        if (!name.empty() && name.back() == '.') name.pop_back();
        size_t v = line.find_first_not_of(" \t", sp);
        (*zone)[name].records.push_back(v == std::string::npos ? "" : line.substr(v));
    }
    return [zone](const std::string& name) {
        auto it = zone->find(name);
        return it == zone->end() ? dkim::KeyLookup{dns::Status::NxDomain, {}} : it->second;
    };
}

void run_verify(const DkimArgs& args) {
    std::string message = read_stdin();
    dkim::VerifyOptions options;
    options.now = now_seconds(args);
    dkim::VerifyReport report;
    if (!args.key_file.empty()) {
        report = dkim::verify(message, key_file_fetcher(args.key_file), options);
    } else {
        config::Config cfg = load(args);
        dns::CaresOptions dns_options;
        dns_options.servers = args.dns_server.empty() ? cfg.dns.servers : std::vector<std::string>{args.dns_server};
        dns_options.timeout = cfg.dns.timeout;
        dns_options.attempts = cfg.dns.attempts;
        boost::asio::io_context io;
        dns::CaresResolver resolver(io.get_executor(), dns_options);
        std::optional<dkim::VerifyReport> result;
        boost::asio::co_spawn(io, dkim::verify_with_dns(resolver, message, options),
                              [&](std::exception_ptr e, dkim::VerifyReport r) {
                                  if (!e) result = std::move(r);
                              });
        io.run();
        if (!result) fail("verification did not complete");
        report = std::move(*result);
    }
    if (!report.message_ok) fail("cannot parse message: " + report.error);
    if (report.results.empty()) {
        std::cout << "dkim=none (no signature)" << std::endl;
        throw CLI::RuntimeError(1);
    }
    for (const auto& r : report.results) {
        std::cout << "dkim=" << dkim::to_string(r.result);
        if (!r.domain.empty()) std::cout << " header.d=" << r.domain << " header.s=" << r.selector;
        if (!r.algorithm.empty()) std::cout << " header.a=" << r.algorithm;
        if (r.reason != dkim::Reason::None) std::cout << " reason=\"" << dkim::to_string(r.reason) << "\"";
        if (!r.detail.empty()) std::cout << " (" << r.detail << ")";
        if (r.body_length) std::cout << " l=" << *r.body_length;
        if (r.testing) std::cout << " testing";
        std::cout << "\n";
    }
    std::cout << std::flush;
    if (!report.any_pass()) throw CLI::RuntimeError(1);
}

}  // namespace

void add_dkim_command(CLI::App& parent, std::function<config::Config()> load_config) {
    auto args = std::make_shared<DkimArgs>();
    args->load_config = std::move(load_config);

    CLI::App* dkim_app = parent.add_subcommand("dkim", "manage DKIM keys, sign and verify messages");
    dkim_app->require_subcommand(1);
    add_config_option(*dkim_app, args->config_file);

    CLI::App* keygen = dkim_app->add_subcommand("keygen", "generate a key and print its DNS record");
    keygen->add_option("DOMAIN", args->domain, "signing domain (d=)")->required();
    keygen->add_option("SELECTOR", args->selector, "selector (s=)")->required();
    keygen->add_option("--type", args->type, "rsa (default) or ed25519");
    keygen->add_option("--bits", args->bits, "RSA key size, 1024-4096 (default 2048)");
    add_config_option(*keygen, args->config_file);
    keygen->callback([args] { run_keygen(*args); });

    CLI::App* show = dkim_app->add_subcommand("show", "print the DNS records of a domain's keys");
    show->add_option("DOMAIN", args->domain, "signing domain")->required();
    add_config_option(*show, args->config_file);
    show->callback([args] { run_show(*args); });

    CLI::App* sign = dkim_app->add_subcommand("sign", "sign the message on stdin, write it to stdout");
    sign->add_option("--domain", args->domain, "signing domain (default: the From domain)");
    sign->add_option("--selector", args->selector, "only this selector (default: every key)");
    sign->add_option("--canonicalization", args->canonicalization, "relaxed/relaxed (default), simple/simple, ...")
        ->check(CLI::IsMember({"relaxed/relaxed", "relaxed/simple", "simple/relaxed", "simple/simple",
                               "relaxed", "simple"}));
    sign->add_option("--expiration", args->expiration, "seconds until x= (default: none)");
    sign->add_option("--now", args->now, "signing time, Unix seconds (tests)");
    add_config_option(*sign, args->config_file);
    sign->callback([args] { run_sign(*args); });

    CLI::App* verify = dkim_app->add_subcommand("verify", "verify every DKIM signature of the message on stdin");
    verify->add_option("--dns", args->dns_server, "DNS server ip:port (default: [dns] servers)");
    verify->add_option("--key-file", args->key_file, "key records \"name TXT-value\" per line instead of DNS");
    verify->add_option("--now", args->now, "verification time, Unix seconds (for x=)");
    add_config_option(*verify, args->config_file);
    verify->callback([args] { run_verify(*args); });
}

}  // namespace petrel::cli
