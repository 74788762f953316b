// cli/config_command.h — `petrel config check FILE`: validate a configuration file.
//
// Prints "FILE: ok" and exits 0, or prints the ConfigError ("FILE:LINE: message") to stderr
// and exits 1 (via CLI::RuntimeError(1), which CLI11's App::exit turns into that code).
// Trust: the file is the operator's; config/load.cpp validates every key and value.
#pragma once

namespace CLI {
class App;
}

namespace petrel::cli {

// Adds `config` with its subcommand `check` to `parent`.
void add_config_command(CLI::App& parent);

}  // namespace petrel::cli
