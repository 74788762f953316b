// mailauth/dkim/canonicalize.h — DKIM canonicalization of header fields and bodies.
//
// Trust: header fields and body are hostile message bytes; nothing here allocates more than
// the output it returns, and the body is canonicalized as a stream (no copy of the message).
// RFC 6376 §3.4.1 (simple header), §3.4.2 (relaxed header), §3.4.3 (simple body), §3.4.4
// (relaxed body, with erratum 1384: an empty body stays empty), §3.4.5 (the examples, in the
// unit tests), §3.5 l= (body length count, applied to the canonical body).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "mailauth/header_parser.h"

namespace petrel::mailauth::dkim {

enum class Canon { Simple, Relaxed };

const char* to_string(Canon c);

// "name:value\r\n" (relaxed) or the raw bytes (simple), for one header field.
std::string canonicalize_header(const HeaderField& field, Canon canon);

// Canonicalizes `body` and passes the canonical bytes, in pieces, to `sink`. When `limit` is
// set, at most that many canonical bytes are passed on (RFC 6376 §3.5 l=). Returns the
// number of canonical bytes of the whole body (so a caller can compare it with l=).
uint64_t canonicalize_body(std::string_view body, Canon canon,
                           const std::function<void(std::string_view)>& sink,
                           std::optional<uint64_t> limit = std::nullopt);

// The canonical body as a string (tests and the fuzzer).
std::string canonical_body(std::string_view body, Canon canon);

}  // namespace petrel::mailauth::dkim
