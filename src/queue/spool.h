// queue/spool.h — the spool interface: the one place messages are made durable.
//
// Lifecycle: server/ asks for an ID (`new_id`), builds the final message (Received header
// prepended) and calls `commit`. `done` is called exactly once, on a spool thread, after the
// message and its envelope are on stable storage (ok) or after nothing of it is visible (error):
// the caller must not reply 250 before `done(ok)` (STYLE §3, RFC 5321 §6.1).
// Thread-safety: all methods may be called from any thread.
// Only queue/ writes the spool directory (STYLE §2).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "mail/envelope.h"

namespace petrel::queue {

enum class CommitStatus {
    Ok,
    NoSpace,   // disk full or spool quota reached: 452 4.3.1
    IoError,   // any other write/fsync failure: 451 4.3.0
};

// Where a committed message lives (docs/queue-format.md): the record at byte `offset` of
// segment file number `segment`, `header_bytes` of spool header followed by the message.
struct SpoolLocation {
    uint32_t segment = 0;
    uint32_t header_bytes = 0;
    uint64_t offset = 0;
};

struct CommitOutcome {
    CommitStatus status = CommitStatus::Ok;
    std::string detail;      // for the log; never sent to the client
    SpoolLocation location;  // when Ok
};

// A delivery status notification petrel generated itself (delivery/ commits it from "<>" with
// this listener name in its session facts): `petrel queue list` shows it as a bounce, and it
// lives only for the bounce lifetime. Other "<>" mail (bounces from elsewhere) is not one.
inline constexpr std::string_view kBounceListener = "dsn";
inline bool is_petrel_bounce(const mail::Envelope& e) {
    return !e.sender && e.facts.listener == kBounceListener;
}

class Spool {
public:
    virtual ~Spool() = default;
    virtual std::string new_id() = 0;
    // `message` is the complete message (headers and body, CRLF line ends).
    virtual void commit(std::string id, mail::Envelope envelope, std::string message,
                        std::function<void(CommitOutcome)> done) = 0;
};

}  // namespace petrel::queue
