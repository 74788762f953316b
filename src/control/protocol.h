// control/protocol.h — the control protocol spoken on `<data_dir>/control.sock` (and, when no
// daemon runs, in-process by `petrel queue`): one JSON request per line, one JSON response per
// line (docs/queue-cli.md).
//
// Requests: {"command":"list"|"show"|"hold"|"release"|"delete"|"flush", ...}
//   list    after (ID), limit (1..10000, default 100), domain, state
//   show    id, raw (bool: adds the whole message as "message_base64")
//   hold / release   id
//   delete  id, or domain (every message with a recipient in that domain)
//   flush   id, or nothing / "all": true (every message not on hold)
// Responses: {"ok":true, ...} or {"ok":false,"error":{"code":C,"message":M}} where C is one of
// the stable codes "not_found", "invalid_request", "io_error".
//
// Trust: a request comes from a local operator (the socket is mode 0600, owned by petrel's user)
// but is still parsed as untrusted bytes: size-limited (kMaxRequestBytes) before parsing, every
// field type-checked, IDs validated with base::is_valid_queue_id and domains normalized
// (mail::normalize_domain, IDNA) before they reach the queue. No I/O here besides the calls into
// queue::QueueManager (which may touch disk); no Asio.
// Output strings that are not valid UTF-8 (8-bit headers, RFC 6532) get U+FFFD for the bad
// bytes so the JSON stays valid; the byte-exact message is only in "message_base64".
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "control/message_json.h"
#include "queue/queue_manager.h"

namespace petrel::control {

inline constexpr size_t kMaxRequestBytes = 64 * 1024;  // one request line, newline excluded
inline constexpr size_t kMaxListLimit = 10000;          // messages per `list` page
inline constexpr size_t kDefaultListLimit = 100;

// The stable error codes (docs/queue-cli.md). Scripts match on these strings.
enum class ErrorCode { NotFound, InvalidRequest, IoError };
std::string_view to_string(ErrorCode code);

struct Error {
    ErrorCode code = ErrorCode::InvalidRequest;
    std::string message;
};

enum class Command { List, Show, Hold, Release, Delete, Flush };

struct Request {
    Command command = Command::List;
    std::string id;          // show, hold, release, delete, flush ("" with flush: all)
    std::string domain;      // list filter / delete by domain; normalized (A-labels)
    queue::ListQuery query;  // list
    bool raw = false;        // show
};

// Parses one request line (without its newline). Never throws.
std::variant<Request, Error> parse_request(std::string_view line);

// Runs a parsed request against the queue. The response object includes "ok".
boost::json::object execute(queue::QueueManager& queue, const Request& request, int64_t now_ms);

// parse_request + execute + serialize: what the socket server does with each line. The result
// has no trailing newline.
std::string handle_line(queue::QueueManager& queue, std::string_view line, int64_t now_ms);

boost::json::object error_response(const Error& error);
std::string to_line(const boost::json::object& response);

// Unix time in milliseconds, now.
int64_t now_ms();

}  // namespace petrel::control
