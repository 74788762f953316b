// queue/segment_scan.h — reading a segment file of the spool back at start-up
// (docs/queue-format.md, "Segments" and "Recovery"): its records in order, and its tombstones.
//
// Trust: the bytes may be torn (a crash during an append that was never acknowledged) or
// corrupt (a bad disk, a hand edit). A record counts only if its header parses, its header and
// message checksums match and it lies wholly inside the file; the scan stops at the first
// record that does not (everything after it in the same segment was written by the same
// unsynced append or later ones in it, never acknowledged: file_spool.h). Tombstone lines that
// are not exactly a queue ID are skipped.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "queue/spool_entry.h"

namespace petrel::queue {

struct ScannedRecord {
    SpoolEntry entry;       // entry.message_offset: a file offset
    uint64_t offset = 0;    // where the record starts
    uint32_t header_bytes = 0;
};

struct SegmentScan {
    bool opened = false;
    bool read_error = false;  // a read failed inside the file (not a torn record: keep the file)
    uint64_t file_size = 0;
    uint64_t good_end = 0;    // end of the last good record (== file_size when all is well)
    uint64_t records = 0;
    std::string stop_reason;  // why the scan stopped before file_size ("" if it did not)
};

// Calls `on_record` for each good record, in file order.
SegmentScan scan_segment(const std::string& path,
                         const std::function<void(ScannedRecord&&)>& on_record);

// The IDs in a tombstone file (absent file: none). A torn last line (no LF) is ignored and,
// with `repair`, cut off so the next append starts a fresh line.
std::vector<std::string> read_tombstones(const std::string& path, bool repair);

}  // namespace petrel::queue
