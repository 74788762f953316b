// cli/check_dmarc.h — `petrel check dmarc`: evaluate a domain's DMARC policy (RFC 7489) for
// given SPF and DKIM outcomes against live DNS, as the inbound path will (docs/dmarc.md).
//
//   petrel check dmarc (--from-domain D | --message FILE) [--spf-pass] [--spf-domain X]
//                      [--dkim-pass DOMAIN ...] [--sample N] [--dns HOST:PORT] [--json]
//
// Prints `dmarc=<result> policy=<p> disposition=<d> header.from=<d> policy.domain=<d>
// spf_aligned=yes|no dkim_aligned=yes|no reason="..."`, or one JSON object with --json.
// --sample fixes the pct= draw (0..99; default random). DNS as `petrel check spf`.
// Exit status: 0 for pass, 1 for any other result or an error, 2 for bad arguments.
// Trust: arguments are the local operator's; DNS answers and the message file are hostile and
// reach the terminal only through base::escape_for_log.
#pragma once

#include <functional>

#include "config/config.h"

namespace CLI {
class App;
}

namespace petrel::cli {

// Adds the "dmarc" subcommand under `check`.
void add_check_dmarc(CLI::App& check, std::function<config::Config()> load_config);

}  // namespace petrel::cli
