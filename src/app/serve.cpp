// app/serve.cpp — see serve.h. The wiring of the daemon, in plain sight (STYLE §8):
// config → logs → data_dir → store → spool → queue manager (recovery) → TLS → resolver → SMTP
// server → bind → DKIM/ARC keys → privilege drop → start → signals → run. Exceptions are only for start-up errors here (STYLE §6).
#include "app/serve.h"

#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <functional>
#include <iostream>
#include <memory>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <string>
#include <vector>

#include "app/privileges.h"
#include "config/config.h"
#include "control/control_server.h"
#include "delivery/engine.h"
#include "delivery/maildir.h"
#include "dns/cares_resolver.h"
#include "dns/caching_resolver.h"
#include "mailauth/outbound.h"
#include "net/tls.h"
#include "policy/local_recipients.h"
#include "policy/relay_policy.h"
#include "queue/file_spool.h"
#include "queue/queue_manager.h"
#include "server/smtp_server.h"
#include "store/credentials.h"

namespace petrel::app {

namespace {

void setup_logging(const std::string& level) {
    auto logger = spdlog::stderr_logger_mt("petrel");
    spdlog::set_default_logger(logger);
    // One line per event: time, level, message (the message carries sid=/qid=).
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %l %v");
    spdlog::set_level(spdlog::level::from_str(level));
    spdlog::flush_on(spdlog::level::warn);
}

void make_data_dir(const std::string& dir) {
    namespace fs = std::filesystem;
    fs::path p(dir);
    if (fs::exists(p)) {
        if (!fs::is_directory(p)) throw std::runtime_error("data_dir " + dir + " is not a directory");
        return;
    }
    if (p.has_parent_path() && !p.parent_path().empty()) fs::create_directories(p.parent_path());
    if (::mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) {
        throw std::runtime_error("cannot create data_dir " + dir + ": " + std::strerror(errno));
    }
}

// "mx 127.0.0.1:2525" -> {"mx", "127.0.0.1", "2525"}; "[::1]:2525" -> host "::1".
struct Bound {
    std::string kind, host, port;
};

Bound split_bound(const std::string& s) {
    Bound b;
    auto sp = s.find(' ');
    b.kind = s.substr(0, sp);
    std::string addr = sp == std::string::npos ? "" : s.substr(sp + 1);
    auto colon = addr.rfind(':');
    b.host = addr.substr(0, colon);
    b.port = colon == std::string::npos ? "" : addr.substr(colon + 1);
    if (b.host.size() >= 2 && b.host.front() == '[') b.host = b.host.substr(1, b.host.size() - 2);
    if (b.host == "0.0.0.0") b.host = "127.0.0.1";
    if (b.host == "::") b.host = "::1";
    return b;
}

void print_banner(const config::Config& cfg, const std::vector<std::string>& bound,
                  const std::string& user) {
    std::cout << "petrel serving as " << cfg.hostname << " (delivery: "
              << config::to_string(cfg.delivery_mode)
              << (cfg.delivery_mode == config::DeliveryMode::Sandbox
                      ? ": mail is captured in the spool, never delivered"
                      : "")
              << ")\n";
    for (const std::string& b : bound) {
        Bound x = split_bound(b);
        const char* what = x.kind == "mx"           ? "SMTP, no AUTH"
                           : x.kind == "submission" ? "STARTTLS, then AUTH"
                                                    : "implicit TLS, AUTH";
        std::cout << "  " << b << "  (" << what << ")\n";
    }
    std::cout << "  data in " << cfg.data_dir << (user.empty() ? "" : ", running as " + user) << "\n";
    // One line to try it (swaks is in Debian).
    std::string domain = !cfg.domains.local.empty() ? cfg.domains.local.front()
                         : !cfg.domains.relay.empty() ? cfg.domains.relay.front()
                                                      : "example.test";
    for (const std::string& b : bound) {
        Bound x = split_bound(b);
        if (x.kind == "mx" && (cfg.delivery_mode == config::DeliveryMode::Sandbox ||
                               !cfg.domains.local.empty() || !cfg.domains.relay.empty())) {
            std::cout << "Try: swaks --server " << x.host << " --port " << x.port
                      << " --from you@client.test --to someone@" << domain << "\n";
            return;
        }
    }
    for (const std::string& b : bound) {
        Bound x = split_bound(b);
        if (x.kind == "submission") {
            std::cout << "Try: petrel user add app1 (password on stdin), then swaks --server " << x.host
                      << " --port " << x.port
                      << " --tls --auth-user app1 --auth-password PASSWORD --to someone@" << domain
                      << "\n";
            return;
        }
    }
}

}  // namespace

int serve(const std::string& config_file) {
    config::Config cfg;
    try {
        if (config_file.empty()) {
            std::cerr << "petrel: no --config given: using the zero-config default "
                         "(sandbox; see docs/configuration.md)\n";
            cfg = config::default_config();
        } else {
            cfg = config::load_config(config_file);
        }
    } catch (const config::ConfigError& e) {
        std::cerr << "petrel: " << e.what() << "\n";
        return 1;
    }

    setup_logging(cfg.log_level);
    try {
        const std::string user = drop_target(cfg.run_as_user);  // checked before touching files
        make_data_dir(cfg.data_dir);
        std::unique_ptr<store::Credentials> credentials =
            store::open_sqlite_credentials(store::sqlite_store_path(cfg.data_dir));
        queue::FileSpool spool({cfg.data_dir, cfg.queue.max_spool_bytes,
                                cfg.delivery_mode == config::DeliveryMode::Sandbox});
        // The queue manager owns the spool's contents from here on: recovery rebuilds its index
        // before any listener is served and logs its RecoveryStats as one line ("queue
        // recovered: ..."); every commit goes through it, so a message is in the index before
        // its 250.
        queue::QueueManager queue(spool);
        queue.recover();
        // Sparse segments (mostly removed records around a few long-deferred messages) are
        // compacted in the background (docs/queue-format.md, "Compaction").
        queue.start_compaction(std::chrono::seconds(30));
        net::TlsContexts tls(cfg);
        spdlog::info("tls certificate {}{}", tls.cert_file(), tls.self_signed() ? " (self-signed)" : "");

        boost::asio::io_context io;
        // Who exists in domains.local (docs/delivery.md, "Local delivery"): [local] users and
        // aliases, plus the store's users when use_store_users; RCPT to anyone else in a local
        // domain gets 550 5.1.1. SIGHUP re-reads the store's users.
        auto store_users = [&] {
            std::vector<std::string> names;
            if (cfg.local.use_store_users) {
                for (const store::UserInfo& u : credentials->list_users()) names.push_back(u.name);
            }
            return names;
        };
        policy::LocalRecipients local(cfg, store_users());
        if (!cfg.domains.local.empty()) spdlog::info("local recipients: {}", local.describe());
        policy::RelayPolicy relay(cfg, local);
        // One resolver from [dns] for everything that asks DNS: the mx listener's
        // authentication checks (docs/authentication-results.md) and outbound delivery. It
        // exists whenever a listener does, whatever the delivery mode (sandbox, paused).
        dns::CaresResolver cares(io.get_executor(),
                                 dns::CaresOptions{cfg.dns.servers, cfg.dns.timeout, cfg.dns.attempts});
        dns::CacheOptions cache_options;
        cache_options.max_entries = cfg.dns.cache_entries;
        dns::CachingResolver resolver(cares, cache_options);
        server::SmtpServer smtp(io, cfg, tls, static_cast<queue::Spool&>(queue), *credentials, relay);
        smtp.set_resolver(resolver);
        // The control socket (`petrel queue`, docs/queue-cli.md): bound in start(), after the
        // privilege drop, so the socket file belongs to the user petrel runs as.
        control::ControlServer control(io, queue, control::socket_path(cfg.data_dir));
        smtp.bind();  // as root if started as root: ports below 1024
        // DKIM and ARC sealing keys (docs/dkim.md, docs/arc.md) are 0600 files: read now, before
        // the privilege drop (which hands data_dir to the user petrel runs as, so SIGHUP can
        // read them again).
        mailauth::KeyLoadReport key_report;
        mailauth::OutboundAuth outbound_auth(cfg, key_report);
        auto log_keys = [](const mailauth::KeyLoadReport& r, const char* prefix) {
            for (const std::string& e : r.errors) spdlog::error("{}{}", prefix, e);
            for (const std::string& w : r.warnings) spdlog::warn("{}{}", prefix, w);
            for (const std::string& n : r.notes) spdlog::info("{}{}", prefix, n);
        };
        log_keys(key_report, "");

        if (!user.empty()) {
            drop_privileges(user, cfg.data_dir);
            spdlog::info("dropped privileges to {}", user);
        } else if (!cfg.run_as_user.empty()) {
            spdlog::info("run_as {} ignored: not started as root", cfg.run_as_user);
        }
        control.start();

        // Outbound delivery (docs/delivery.md), after recovery and the privilege drop: the
        // shared resolver, local domains into Maildir, the engine on the io thread.
        std::unique_ptr<delivery::MaildirDelivery> maildir;
        std::unique_ptr<delivery::DeliveryEngine> outbound;
        if (cfg.delivery_mode != config::DeliveryMode::Sandbox && !cfg.delivery.paused) {
            maildir = std::make_unique<delivery::MaildirDelivery>(
                cfg.local.maildir_root.empty() ? cfg.data_dir + "/mail" : cfg.local.maildir_root,
                [&local](std::string_view local_part) { return local.resolve(local_part); });
            outbound = std::make_unique<delivery::DeliveryEngine>(
                io, cfg, queue, resolver,
                [&maildir](const std::string& user, std::string_view message, const mail::Envelope& env) {
                    delivery::DeliveryOutcome o = maildir->deliver(user, message, env);
                    return delivery::LocalOutcome{o.ok, o.permanent, o.reply};
                },
                &outbound_auth);
            outbound->start();
        } else if (cfg.delivery.paused) {
            spdlog::warn("delivery paused ([delivery] paused = true): mail is queued, not delivered");
        }

        // A peer that closes early must not kill the process (EPIPE is handled as an error).
        std::signal(SIGPIPE, SIG_IGN);
        boost::asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
        std::function<void(const boost::system::error_code&, int)> on_signal =
            [&](const boost::system::error_code& ec, int sig) {
                if (ec) return;
                if (sig == SIGHUP) {
                    std::string error;
                    // TlsContexts logs a successful reload itself.
                    if (!tls.reload(&error)) spdlog::error("SIGHUP: TLS reload failed, keeping the old one: {}", error);
                    if (cfg.local.use_store_users) {
                        local.replace_store_users(store_users());
                        spdlog::info("SIGHUP: local recipients: {}", local.describe());
                    }
                    // All keys or none: a bad key file keeps the old set (each error names the file).
                    mailauth::KeyLoadReport reloaded;
                    const bool swapped = outbound_auth.reload(reloaded);
                    log_keys(reloaded, "SIGHUP: ");
                    if (!swapped) spdlog::error("SIGHUP: DKIM/ARC keys not reloaded, keeping the old ones");
                    signals.async_wait(on_signal);
                    return;
                }
                spdlog::info("{}: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
                smtp.stop();
                control.stop();
                if (outbound) outbound->stop();
                signals.cancel();  // io.run() returns once every session has closed
            };
        signals.async_wait(on_signal);

        smtp.start();
        print_banner(cfg, smtp.bound_addresses(), user);
        std::cout.flush();
        io.run();
        spdlog::info("stopped");
        return 0;
    } catch (const std::exception& e) {
        std::cerr << "petrel: cannot start: " << e.what() << "\n";
        return 1;
    }
}

}  // namespace petrel::app
