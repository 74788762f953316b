// cli/queue_command.h — `petrel queue list|show|flush|hold|release|delete`: inspect and control
// the queue of one deployment (issue 3, "Control from the CLI"; docs/queue-cli.md).
//
// How it reaches the queue: through the running daemon's control socket
// (`<data_dir>/control.sock`, control/protocol.h). When no daemon answers there (no socket file,
// or connection refused: e.g. after a crash), it opens the spool itself — FileSpool (which takes
// the spool lock) + QueueManager::recover() — and runs the same request in-process, so the
// output is identical. If the spool lock is held but the socket does not answer, it says so and
// exits 3; it never reads a spool another process is writing.
// Exit codes: 0 ok, 1 not found, 2 usage error (bad option, malformed ID or domain), 3 daemon or
// spool unavailable (or an I/O error in the spool). Errors go to stderr in one line.
// Trust: arguments come from the local operator and are validated before use; what the daemon
// sends back is parsed as untrusted JSON, and peer-supplied text (addresses, reply texts,
// headers) is escaped before it reaches a terminal in the human output (--json and --raw print
// it as is, escaped by JSON or byte-exact).
#pragma once

#include <functional>

#include "config/config.h"

namespace CLI {
class App;
}

namespace petrel::cli {

// Adds `queue` and its subcommands to `parent`. `load_config` returns the configuration chosen
// by the caller's own options (`petrel --config FILE queue ...`); a --config given to `queue` or
// to a subcommand takes precedence. Returns the `queue` subcommand (main() uses it to map usage
// errors under `queue` to exit code 2).
CLI::App* add_queue_command(CLI::App& parent, std::function<config::Config()> load_config);

}  // namespace petrel::cli
