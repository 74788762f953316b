// queue/state_journal.h — the per-message state journal (docs/queue-format.md, "State
// journal"): what happened to a message after its commit (recipients delivered, bounced or
// deferred, attempts, next retry, hold), recorded without rewriting the message file.
//
// One append-only text file per message, spool/state/<id>, one record per LF-terminated line,
// each line carrying its own CRC-32. Records hold absolute values (a recipient's state and
// attempt count, the message's attempt count and next retry), never deltas, so a record lost
// to corruption costs only that change and replaying any subset in order is consistent.
//
// Trust: the parser takes bytes read back from disk that may be torn (a crash mid-append) or
// corrupt: a line whose CRC or syntax is wrong, or whose recipient index is out of range, is
// skipped and counted; a last line without its LF is torn and ignored. Nothing throws.
// Thread-safety: `StateJournal` methods may be called from any thread, but appends and
// rewrites of the SAME id must be serialized by the caller (the queue manager does it).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "queue/spool_entry.h"

namespace petrel::queue {

struct RecipientRecord {
    uint32_t index = 0;  // into the envelope's recipients
    RecipientState state = RecipientState::Pending;
    uint32_t attempts = 0;  // this recipient's attempts so far (absolute)
    std::string reply;      // last reply or failure text, "" if none
};

struct JournalRecord {
    // DelayWarned: a delay report (RFC 3461 NOTIFY=DELAY) was sent for this message; at most
    // one per message, across restarts. Readers before it skip the line as bad (docs).
    enum class Kind { Attempt, Hold, DelayWarned };
    Kind kind = Kind::Attempt;
    int64_t time_ms = 0;
    // Attempt: the message's attempts so far and its next retry (absolute), and the recipients
    // this attempt changed.
    uint32_t attempts = 0;
    int64_t next_attempt_ms = 0;
    std::vector<RecipientRecord> recipients;
    // Hold: the operator's hold flag.
    bool held = false;
};

// One record as a journal line: "<crc> <record>\n".
std::string format_journal_record(const JournalRecord& record);

struct JournalParse {
    std::vector<JournalRecord> records;  // the good ones, in file order
    size_t bad_lines = 0;                // skipped: bad CRC, bad syntax, index out of range
    bool torn_tail = false;              // the last line had no LF (ignored)
    bool damaged() const { return bad_lines != 0 || torn_tail; }
};

// `recipients`: how many the message has (an index at or past it makes the record bad).
JournalParse parse_journal(std::string_view bytes, size_t recipients);

// A message's state: the header's recipient states, then every journal record applied.
struct RecipientProgress {
    RecipientState state = RecipientState::Pending;
    uint32_t attempts = 0;
    std::string reply;
};

struct MessageProgress {
    std::vector<RecipientProgress> recipients;
    uint32_t attempts = 0;
    int64_t next_attempt_ms = 0;
    bool held = false;
    bool delay_warned = false;
    std::string last_error;  // the reply of the last attempt that left a recipient not delivered
};

MessageProgress initial_progress(const std::vector<RecipientState>& header_states);
void apply_journal_record(const JournalRecord& record, MessageProgress& progress);
// The fewest records that rebuild `progress` from the header states (for a compacted rewrite).
std::vector<JournalRecord> snapshot_records(const MessageProgress& progress, int64_t now_ms);

// The files: spool/state/<id>. Construction creates the directory (throws at start-up only).
class StateJournal {
public:
    explicit StateJournal(std::string dir);
    ~StateJournal();
    StateJournal(const StateJournal&) = delete;
    StateJournal& operator=(const StateJournal&) = delete;

    const std::string& dir() const { return dir_; }
    std::string path_of(const std::string& id) const { return dir_ + "/" + id; }

    // Appends one record and fdatasyncs it; a newly created file also gets its directory
    // fsynced. On failure the file is cut back to its old length, so no partial line remains.
    bool append(const std::string& id, const JournalRecord& record, std::string& error);
    // Several records in one write and one fdatasync (a crash keeps a prefix of them).
    bool append(const std::string& id, const std::vector<JournalRecord>& records, std::string& error);
    // Replaces the journal atomically (write <id>.tmp, fdatasync, rename, fsync the directory).
    bool rewrite(const std::string& id, const std::vector<JournalRecord>& records, std::string& error);
    // nullopt: no journal (or unreadable: `error` says which).
    std::optional<std::string> read(const std::string& id, std::string* error = nullptr) const;
    bool remove(const std::string& id);  // a missing file is not an error; not synced
    std::vector<std::string> list() const;  // every name in the directory

    static constexpr size_t kMaxReply = 512;       // replies are cut to this on write
    static constexpr size_t kMaxJournal = 16 << 20;  // a longer file is read up to here

private:
    std::string dir_;
    int dir_fd_ = -1;
};

}  // namespace petrel::queue
