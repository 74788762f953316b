// base/ids.h — identifiers for queue entries and sessions.
//
// A queue ID is 14 characters of lower-case Crockford base32: 11 for the microseconds since the
// Unix epoch, 3 for a per-process counter started at a random value. IDs therefore sort by time
// as strings, are safe in file names on every filesystem, and do not repeat within a process
// (the counter separates IDs made in the same microsecond) nor across restarts (time moves on).
// Thread-safe.
#pragma once

#include <string>

namespace petrel::base {

std::string new_queue_id();
std::string new_session_id();  // 10 characters, same alphabet; unique within a process run

// True when `id` has the shape of a queue ID (so it can be used as a file name).
bool is_valid_queue_id(const std::string& id);

}  // namespace petrel::base
