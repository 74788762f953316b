// app/main.cpp — the `petrel` command line (CLI11): serve, config, user, queue, and the subcommands
// still to come. Each subcommand takes --config FILE (PRODUCT.md, "Fixed interfaces").
#include <CLI/CLI.hpp>

#include <iostream>
#include <string>

#include "app/serve.h"
#include "cli/check_command.h"
#include "cli/config_command.h"
#include "cli/dkim_command.h"
#include "cli/queue_command.h"
#include "cli/user_command.h"
#include "config/config.h"

namespace {

// A subcommand whose issue has not landed yet: accepts anything, exits 2.
void add_placeholder(CLI::App& app, const char* name, const char* description) {
    CLI::App* sub = app.add_subcommand(name, description);
    sub->allow_extras();
    sub->callback([name] {
        std::cerr << "petrel " << name << ": not implemented yet\n";
        throw CLI::RuntimeError(2);
    });
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"petrel: mail transfer agent and email-sending platform"};
    app.require_subcommand(1);
    std::string config_file;  // `petrel --config FILE SUBCOMMAND ...`
    app.add_option("--config", config_file, "configuration file (TOML)");

    std::string serve_config;
    bool serve_requested = false;
    CLI::App* serve = app.add_subcommand("serve", "run the mail server");
    serve->add_option("--config", serve_config, "configuration file (TOML)");
    serve->callback([&] { serve_requested = true; });

    petrel::cli::add_config_command(app);
    auto global_config = [&] {
        return config_file.empty() ? petrel::config::default_config()
                                   : petrel::config::load_config(config_file);
    };
    petrel::cli::add_user_command(app, global_config);
    CLI::App* queue = petrel::cli::add_queue_command(app, global_config);
    petrel::cli::add_dkim_command(app, global_config);
    add_placeholder(app, "send", "send a test message (swaks-like)");
    petrel::cli::add_check_command(app, global_config);

    try {
        app.parse(argc, argv);
    } catch (const CLI::Error& e) {
        const int rc = app.exit(e);
        // `petrel queue` promises exit code 2 for usage errors (docs/queue-cli.md); CLI11's own
        // parse-error codes are 100 and up.
        // CLI::RuntimeError carries a command's own exit code (1, 3, ...): keep it.
        if (rc != 0 && queue->parsed() && !dynamic_cast<const CLI::RuntimeError*>(&e)) return 2;
        return rc;
    }
    if (serve_requested) return petrel::app::serve(serve_config.empty() ? config_file : serve_config);
    return 0;
}
