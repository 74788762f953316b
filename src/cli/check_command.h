// cli/check_command.h — `petrel check spf`: evaluate SPF for a client address, sender and HELO
// against live DNS, as the inbound path will (docs/spf.md). `check dmarc`: cli/check_dmarc.h.
//
//   petrel check spf --ip 192.0.2.1 --sender user@example.com --helo mail.example.com
//                    [--identity mailfrom|helo] [--dns HOST:PORT] [--receiver NAME] [--json]
//
// Prints `spf=<result> identity=<i> domain=<d> reason="..."` (and `explanation="..."` for a
// fail with exp=), or one JSON object with --json. DNS: `--dns` (a test seam and a debugging
// aid), else the [dns] servers of the configuration, else /etc/resolv.conf. Other check kinds
// (mx, dkim, tls) say "not implemented yet" and exit 2.
// Exit status: 0 for pass, 1 for any other result or an error, 2 for bad arguments (CLI11's
// own parse errors keep its codes).
// Trust: arguments are the local operator's; DNS answers are hostile and reach the terminal
// only through base::escape_for_log. RFC 7208.
#pragma once

#include <functional>

#include "config/config.h"

namespace CLI {
class App;
}

namespace petrel::cli {

void add_check_command(CLI::App& parent, std::function<config::Config()> load_config);

}  // namespace petrel::cli
