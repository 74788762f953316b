// queue/spool_entry.h — the on-disk form of one spooled message (docs/queue-format.md,
// format version 2; version 1 files are read too): a text header (envelope, session facts, per-recipient state, checksum)
// followed by the message bytes.
//
// Trust: `serialize_spool_header` takes petrel's own validated envelope. The readers take file
// bytes that may be torn or corrupt (a crash, a bad disk, a hand edit): they check the magic,
// the version, every field, the header checksum and the message length, and report any
// mismatch as an error value, never an exception and never a partial entry.
// Envelope fields: RFC 5321 §3.3; DSN parameters RFC 3461 §4; BODY RFC 6152 / RFC 3030.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mail/envelope.h"

namespace petrel::queue {

// Version 2: the header's recipient states are the states at commit; later changes are in the
// state journal spool/state/<id> (queue/state_journal.h). Version 1 had no journal.
inline constexpr int kSpoolFormatVersion = 2;

// Per-recipient delivery state, one letter on disk.
enum class RecipientState {
    Pending,    // 'P': still to deliver
    Delivered,  // 'D': done
    Bounced,    // 'B': failed permanently, DSN due or sent
    Captured,   // 'C': accepted in sandbox mode; never delivered
};

struct SpoolEntry {
    std::string id;
    int64_t created_ms = 0;  // Unix time of the commit, milliseconds
    mail::Envelope envelope;
    std::vector<RecipientState> states;  // one per envelope.recipients
    uint64_t message_offset = 0;         // where the message starts in the file
    uint64_t message_size = 0;
};

struct ReadResult {
    bool ok = false;
    std::string error;  // when !ok: what is wrong, for the log
    SpoolEntry entry;
    std::optional<std::string> message;  // read_spool_entry with inline_max: the message bytes
};

// The header for `message_size` bytes of message; the message follows it directly.
std::string serialize_spool_header(const std::string& id, int64_t created_ms,
                                   const mail::Envelope& envelope,
                                   const std::vector<RecipientState>& states,
                                   uint64_t message_size);

// Parses a header from the start of `bytes`; `file_size` is the size of the whole file, which
// must equal message_offset + message_size (a shorter file is torn, a longer one corrupt).
ReadResult parse_spool_entry(std::string_view bytes, uint64_t file_size);

// Reads the header of the spool file at `path` (not the message: it may be large). A file of
// at most `inline_max` bytes is read whole in the same pread and its message returned too
// (delivery: one open and one read per attempt for small messages).
ReadResult read_spool_entry(const std::string& path, uint64_t inline_max = 0);

}  // namespace petrel::queue
