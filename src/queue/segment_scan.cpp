// queue/segment_scan.cpp — see segment_scan.h.
#include "queue/segment_scan.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

#include "base/ids.h"
#include "queue/codec.h"

namespace petrel::queue {

namespace {

// A window of the file, read in large sequential chunks (recovery of a big backlog reads every
// segment once, front to back).
class Window {
public:
    Window(int fd, uint64_t size) : fd_(fd), size_(size) {}

    // [pos, pos + len) in memory; false if the file ends before or a read fails.
    bool ensure(uint64_t pos, uint64_t len) {
        if (len > size_ || pos > size_ - len) return false;  // (no wrap-around)
        if (pos >= base_ && pos + len <= base_ + buf_.size()) return true;
        const uint64_t want = std::min<uint64_t>(std::max<uint64_t>(len, kChunk), size_ - pos);
        buf_.resize(static_cast<size_t>(want));
        buf_.resize(pread_full(fd_, buf_.data(), buf_.size(), pos));
        base_ = pos;
        return buf_.size() >= len;
    }
    std::string_view view(uint64_t pos, uint64_t len) const {
        return std::string_view(buf_).substr(static_cast<size_t>(pos - base_), static_cast<size_t>(len));
    }

private:
    static constexpr uint64_t kChunk = 4ull << 20;
    int fd_;
    uint64_t size_;
    uint64_t base_ = 0;
    std::string buf_;
};

}  // namespace

SegmentScan scan_segment(const std::string& path,
                         const std::function<void(ScannedRecord&&)>& on_record) {
    SegmentScan out;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        out.stop_reason = "cannot open";
        return out;
    }
    out.opened = true;
    struct stat st{};
    if (::fstat(fd, &st) != 0) {
        ::close(fd);
        out.stop_reason = "cannot stat";
        return out;
    }
    out.file_size = static_cast<uint64_t>(st.st_size);
    Window w(fd, out.file_size);
    uint64_t pos = 0;
    while (pos < out.file_size) {
        const uint64_t left = out.file_size - pos;
        // The header ends with its "crc" line; most are far under 4 KiB.
        uint64_t want = std::min<uint64_t>(4096, left);
        ReadResult r;
        while (true) {
            if (!w.ensure(pos, want)) {
                r.error = "cannot read";
                out.read_error = true;
                break;
            }
            std::string_view v = w.view(pos, want);
            if (spool_header_complete(v) || want == left || want >= kMaxSpoolHeader) {
                r = parse_spool_entry(v, kRecordSizeUnknown);
                break;
            }
            want = std::min<uint64_t>(want * 4, left);
        }
        if (!r.ok) {
            out.stop_reason = r.error;
            break;
        }
        SpoolEntry& e = r.entry;
        if (!e.message_crc) {
            out.stop_reason = "record without a message checksum";
            break;
        }
        if (!base::is_valid_queue_id(e.id)) {
            out.stop_reason = "record with an invalid queue ID";
            break;
        }
        const uint64_t header = e.message_offset;
        if (e.message_size > left - header) {  // header <= left: it was parsed from the file
            out.stop_reason = "message is truncated";
            break;
        }
        if (!w.ensure(pos + header, e.message_size)) {  // in bounds (above): an I/O error
            out.stop_reason = "cannot read";
            out.read_error = true;
            break;
        }
        if (crc32(w.view(pos + header, e.message_size)) != *e.message_crc) {
            out.stop_reason = "message checksum mismatch";
            break;
        }
        ScannedRecord rec;
        rec.offset = pos;
        rec.header_bytes = static_cast<uint32_t>(header);
        e.path = path;
        e.message_offset = pos + header;
        rec.entry = std::move(e);
        pos += header + rec.entry.message_size;
        ++out.records;
        on_record(std::move(rec));
    }
    out.good_end = pos;
    ::close(fd);
    return out;
}

std::vector<std::string> read_tombstones(const std::string& path, bool repair) {
    std::vector<std::string> ids;
    int fd = ::open(path.c_str(), (repair ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) return ids;
    std::string bytes;
    char buf[64 * 1024];
    while (true) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        bytes.append(buf, static_cast<size_t>(n));
    }
    size_t start = 0;
    while (true) {
        size_t nl = bytes.find('\n', start);
        if (nl == std::string::npos) break;
        std::string line = bytes.substr(start, nl - start);
        if (base::is_valid_queue_id(line)) ids.push_back(std::move(line));
        start = nl + 1;
    }
    if (repair && start != bytes.size()) {
        // A torn last line: cut it, so the next tombstone is not glued to it.
        if (::ftruncate(fd, static_cast<off_t>(start)) == 0) ::fdatasync(fd);
    }
    ::close(fd);
    std::sort(ids.begin(), ids.end());
    return ids;
}

}  // namespace petrel::queue
