// cli/command_support.h — what every `petrel` subcommand shares: the one-line error exit, and
// finding the configuration (`SUB --config FILE`, else `petrel --config FILE`, else the
// zero-config default).
// Trust: the config file is the operator's; errors in it are reported, never trusted further.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "config/config.h"

namespace petrel::cli {

// Prints "petrel: MESSAGE" on stderr and exits the command with `code`.
[[noreturn]] void fail(const std::string& message, int code = 1);

// The config from `config_file` when given, else from `fallback` (the global --config), else
// the default; a config error ends the command through fail(…, error_code).
config::Config load_command_config(const std::string& config_file,
                                   const std::function<config::Config()>& fallback,
                                   int error_code = 1);

// `--config FILE` on `app`, stored in `config_file`.
void add_config_option(CLI::App& app, std::string& config_file);

}  // namespace petrel::cli
