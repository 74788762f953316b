// cli/queue_format.h — the human output of `petrel queue list` and `petrel queue show`,
// rendered from the control protocol's JSON (control/message_json.h), so the table and --json
// always agree.
// Trust: addresses, reply texts and headers are peer-supplied: every such string goes through
// base::escape_for_log before it reaches the terminal (no escape sequences, no control bytes).
// Missing or mistyped fields render as "?" rather than failing: the JSON came over a socket.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <ostream>
#include <string>

namespace petrel::cli {

void print_list_header(std::ostream& out);
void print_list_row(std::ostream& out, const boost::json::object& message);
// "N of TOTAL shown" and, when `next_after` is set, the command for the next page.
void print_list_footer(std::ostream& out, uint64_t shown, uint64_t total,
                       const std::string& next_after, size_t limit, const std::string& domain,
                       const std::string& state);
// Envelope, per-recipient state, session facts, then the header block.
void print_message(std::ostream& out, const boost::json::object& message);

}  // namespace petrel::cli
