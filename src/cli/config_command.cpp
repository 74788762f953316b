// cli/config_command.cpp — see config_command.h.
#include "cli/config_command.h"

#include <CLI/CLI.hpp>

#include <iostream>
#include <memory>
#include <string>

#include "config/config.h"

namespace petrel::cli {

namespace {

struct CheckArgs {
    std::string file;
    std::string config_option;
};

void run_check(const CheckArgs& args) {
    const std::string& file = args.file.empty() ? args.config_option : args.file;
    if (file.empty()) {
        std::cerr << "petrel: config check needs a FILE (or --config FILE)\n";
        throw CLI::RuntimeError(1);
    }
    try {
        config::Config cfg = config::load_config(file);
        std::cout << file << ": ok\n";
    } catch (const config::ConfigError& e) {
        std::cerr << e.what() << "\n";
        throw CLI::RuntimeError(1);
    }
}

}  // namespace

void add_config_command(CLI::App& parent) {
    auto args = std::make_shared<CheckArgs>();
    CLI::App* config = parent.add_subcommand("config", "work with configuration files");
    config->require_subcommand(1);
    CLI::App* check = config->add_subcommand("check", "validate a configuration file");
    check->add_option("FILE", args->file, "the TOML file to check");
    check->add_option("--config", args->config_option, "the TOML file to check");
    check->callback([args] { run_check(*args); });
}

}  // namespace petrel::cli
