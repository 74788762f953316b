// cli/dkim_command.h — `petrel dkim keygen|show|sign|verify`: DKIM keys and manual signing.
//
// keygen writes a private key into the deployment's data (mailauth/dkim/key_store.h layout,
// mode 0600) and prints the DNS TXT record to publish; from then on `petrel serve` signs mail
// from that domain with it (config [dkim] can override or disable). show prints the records
// again. sign and verify act on a message on standard input (LF or CRLF line ends): sign
// writes the signed message to standard output, verify prints one result line per signature
// (keys from DNS, `--dns HOST:PORT`, or `--key-file`). docs/dkim.md describes all four.
// Trust: arguments are the local operator's; the message on stdin is treated as hostile by the
// mailauth parsers. RFC 6376, RFC 8463, RFC 8301.
// Errors: stderr, prefixed "petrel: ", exit code 1 (verify: 1 also when no signature passes).
#pragma once

#include <functional>

#include "config/config.h"

namespace CLI {
class App;
}

namespace petrel::cli {

void add_dkim_command(CLI::App& parent, std::function<config::Config()> load_config);

}  // namespace petrel::cli
