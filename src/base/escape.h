// base/escape.h — makes peer-supplied bytes safe for a log line (STYLE §5).
//
// Trust: input is arbitrary bytes. Output is printable ASCII only: control bytes, DEL and
// non-ASCII become \xNN, backslash becomes \\, and the result is cut at `max_len` input bytes
// with "..." appended so that one hostile line cannot flood the log.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace petrel::base {

std::string escape_for_log(std::string_view bytes, std::size_t max_len = 200);

}  // namespace petrel::base
