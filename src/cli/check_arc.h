// cli/check_arc.h — `petrel check arc`: validate the ARC chain (RFC 8617 §5.2) of a message
// file against live DNS, as the mx listener does on arrival (docs/arc.md).
//
//   petrel check arc FILE [--dns HOST:PORT] [--now T] [--json]
//
// Prints `arc=<none|pass|fail> instances=N oldest_pass=N ams.d=d1,d2 reason="..."`, or one
// JSON object with --json. LF line ends in FILE are read as CRLF. DNS as `petrel check spf`.
// Exit status: 0 for pass, 1 for none, fail or an error, 2 for bad arguments.
// Trust: the message file and DNS answers are hostile and reach the terminal only through
// base::escape_for_log; at most 64 MiB of the file is read.
#pragma once

#include <functional>

#include "config/config.h"

namespace CLI {
class App;
}

namespace petrel::cli {

// Adds the "arc" subcommand under `check`.
void add_check_arc(CLI::App& check, std::function<config::Config()> load_config);

}  // namespace petrel::cli
