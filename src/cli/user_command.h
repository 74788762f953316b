// cli/user_command.h — `petrel user add|passwd|remove|list`: manage SMTP AUTH credentials.
//
// Acts on the deployment named by --config (or the zero-config default): the credentials store
// at <data_dir>/store.sqlite (store/credentials.h), which a running `petrel serve` reads live.
// Trust: arguments and the password come from the local operator; names are validated by the
// store's rules and echoed escaped. A password is read from standard input when that is not a
// terminal (first line, trailing CR/LF removed), else prompted for twice without echo; it is
// never printed or logged. RFC 4954 (SMTP AUTH) is what these credentials serve.
// Errors go to stderr, prefixed "petrel: ", with exit code 1 (via CLI::RuntimeError(1), which
// CLI11's App::exit turns into that code without printing anything more).
#pragma once

#include <functional>

#include "config/config.h"

namespace CLI {
class App;
}

namespace petrel::cli {

// Adds the `user` subcommand and its four subcommands to `parent`. `load_config` returns the
// configuration selected by the caller's own options (e.g. a --config given before `user`);
// a `--config FILE` given to `user` or to one of its subcommands takes precedence and is loaded
// with config::load_config.
void add_user_command(CLI::App& parent, std::function<config::Config()> load_config);

}  // namespace petrel::cli
