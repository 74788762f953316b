// queue/state_journal.cpp — see state_journal.h and docs/queue-format.md ("State journal").
#include "queue/state_journal.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "queue/codec.h"

namespace petrel::queue {

namespace {

std::string errno_text(const char* what, const std::string& path, int err) {
    return std::string(what) + " " + path + ": " + std::strerror(err);
}

// One line without its LF; false if anything about it is wrong.
bool parse_line(std::string_view line, size_t recipients, JournalRecord& r) {
    if (line.size() < 10 || line[8] != ' ') return false;
    std::string_view body = line.substr(9);
    if (line.substr(0, 8) != crc32_hex(body)) return false;
    std::vector<std::string_view> f = split_fields(body);
    if (f.size() < 2 || !parse_uint(f[1], r.time_ms)) return false;
    if (f[0] == "warned") {
        r.kind = JournalRecord::Kind::DelayWarned;
        return f.size() == 2;
    }
    if (f[0] == "hold") {
        r.kind = JournalRecord::Kind::Hold;
        if (f.size() != 3 || (f[2] != "0" && f[2] != "1")) return false;
        r.held = f[2] == "1";
        return true;
    }
    if (f[0] != "attempt" || f.size() < 5) return false;
    r.kind = JournalRecord::Kind::Attempt;
    size_t n = 0;
    if (!parse_uint(f[2], r.attempts) || !parse_uint(f[3], r.next_attempt_ms) || !parse_uint(f[4], n)) {
        return false;
    }
    if (n > recipients || f.size() != 5 + 4 * n) return false;
    r.recipients.resize(n);
    for (size_t i = 0; i < n; ++i) {
        RecipientRecord& rc = r.recipients[i];
        const size_t k = 5 + 4 * i;
        if (!parse_uint(f[k], rc.index) || rc.index >= recipients ||
            !parse_state_letter(f[k + 1], rc.state) || !parse_uint(f[k + 2], rc.attempts) ||
            !decode_field(f[k + 3], rc.reply)) {
            return false;
        }
    }
    return true;
}

bool write_all(int fd, std::string_view data, int& err) {
    while (!data.empty()) {
        ssize_t w = ::write(fd, data.data(), data.size());
        if (w < 0) {
            if (errno == EINTR) continue;
            err = errno;
            return false;
        }
        data.remove_prefix(static_cast<size_t>(w));
    }
    return true;
}

}  // namespace

std::string format_journal_record(const JournalRecord& r) {
    std::string body;
    auto field = [&body](std::string_view v) {
        if (!body.empty()) body += ' ';
        body.append(v);
    };
    if (r.kind == JournalRecord::Kind::DelayWarned) {
        field("warned");
        field(std::to_string(r.time_ms));
    } else if (r.kind == JournalRecord::Kind::Hold) {
        field("hold");
        field(std::to_string(r.time_ms));
        field(r.held ? "1" : "0");
    } else {
        field("attempt");
        field(std::to_string(r.time_ms));
        field(std::to_string(r.attempts));
        field(std::to_string(r.next_attempt_ms));
        field(std::to_string(r.recipients.size()));
        for (const RecipientRecord& rc : r.recipients) {
            std::string_view reply = rc.reply;
            if (reply.size() > StateJournal::kMaxReply) reply = reply.substr(0, StateJournal::kMaxReply);
            const char letter[2] = {state_letter(rc.state), '\0'};
            field(std::to_string(rc.index));
            field(letter);
            field(std::to_string(rc.attempts));
            field(encode_field(reply));
        }
    }
    std::string line = crc32_hex(body);
    line += ' ';
    line += body;
    line += '\n';
    return line;
}

JournalParse parse_journal(std::string_view bytes, size_t recipients) {
    JournalParse out;
    size_t pos = 0;
    while (pos < bytes.size()) {
        size_t nl = bytes.find('\n', pos);
        if (nl == std::string_view::npos) {
            out.torn_tail = true;  // a crash mid-append: never acknowledged to anyone
            break;
        }
        JournalRecord r;
        if (parse_line(bytes.substr(pos, nl - pos), recipients, r)) out.records.push_back(std::move(r));
        else ++out.bad_lines;
        pos = nl + 1;
    }
    return out;
}

MessageProgress initial_progress(const std::vector<RecipientState>& header_states) {
    MessageProgress p;
    p.recipients.resize(header_states.size());
    for (size_t i = 0; i < header_states.size(); ++i) p.recipients[i].state = header_states[i];
    return p;
}

void apply_journal_record(const JournalRecord& r, MessageProgress& p) {
    if (r.kind == JournalRecord::Kind::Hold) {
        p.held = r.held;
        return;
    }
    if (r.kind == JournalRecord::Kind::DelayWarned) {
        p.delay_warned = true;
        return;
    }
    p.attempts = r.attempts;
    p.next_attempt_ms = r.next_attempt_ms;
    bool error_set = false;
    for (const RecipientRecord& rc : r.recipients) {
        if (rc.index >= p.recipients.size()) continue;  // parse_journal already refused these
        RecipientProgress& dst = p.recipients[rc.index];
        dst.state = rc.state;
        dst.attempts = rc.attempts;
        dst.reply = rc.reply;
        if (!error_set && rc.state != RecipientState::Delivered && !rc.reply.empty()) {
            p.last_error = rc.reply;
            error_set = true;
        }
    }
}

std::vector<JournalRecord> snapshot_records(const MessageProgress& p, int64_t now_ms) {
    std::vector<JournalRecord> out;
    JournalRecord a;
    a.kind = JournalRecord::Kind::Attempt;
    a.time_ms = now_ms;
    a.attempts = p.attempts;
    a.next_attempt_ms = p.next_attempt_ms;
    // The recipient that carries last_error goes first, so replay gives the same last_error.
    for (int pass = 0; pass < 2; ++pass) {
        for (size_t i = 0; i < p.recipients.size(); ++i) {
            const RecipientProgress& rp = p.recipients[i];
            bool carries = !p.last_error.empty() && rp.reply == p.last_error &&
                           rp.state != RecipientState::Delivered;
            if ((pass == 0) != carries) continue;
            a.recipients.push_back({static_cast<uint32_t>(i), rp.state, rp.attempts, rp.reply});
        }
    }
    out.push_back(std::move(a));
    if (p.delay_warned) {
        JournalRecord w;
        w.kind = JournalRecord::Kind::DelayWarned;
        w.time_ms = now_ms;
        out.push_back(std::move(w));
    }
    if (p.held) {
        JournalRecord h;
        h.kind = JournalRecord::Kind::Hold;
        h.time_ms = now_ms;
        h.held = true;
        out.push_back(std::move(h));
    }
    return out;
}

StateJournal::StateJournal(std::string dir) : dir_(std::move(dir)) {
    if (::mkdir(dir_.c_str(), 0750) != 0 && errno != EEXIST) {
        throw std::runtime_error(errno_text("cannot create", dir_, errno));
    }
    dir_fd_ = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd_ < 0) throw std::runtime_error(errno_text("cannot open", dir_, errno));
}

StateJournal::~StateJournal() {
    if (dir_fd_ >= 0) ::close(dir_fd_);
}

bool StateJournal::append(const std::string& id, const JournalRecord& record, std::string& error) {
    return append(id, std::vector<JournalRecord>{record}, error);
}

bool StateJournal::append(const std::string& id, const std::vector<JournalRecord>& records,
                          std::string& error) {
    std::string line;
    for (const JournalRecord& r : records) line += format_journal_record(r);
    bool created = false;
    int fd = ::openat(dir_fd_, id.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        fd = ::openat(dir_fd_, id.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
        created = fd >= 0;
    }
    if (fd < 0) {
        error = errno_text("cannot open", path_of(id), errno);
        return false;
    }
    struct stat st{};
    int err = 0;
    bool ok = ::fstat(fd, &st) == 0 || (err = errno, false);
    ok = ok && write_all(fd, line, err);
    if (ok && ::fdatasync(fd) != 0) {
        err = errno;
        ok = false;
    }
    if (!ok) {
        // Cut back a partial line: a later append must start on a line of its own.
        if (st.st_size >= 0 && ::ftruncate(fd, st.st_size) == 0) ::fdatasync(fd);
        ::close(fd);
        if (created) ::unlinkat(dir_fd_, id.c_str(), 0);
        error = errno_text("cannot append to", path_of(id), err);
        return false;
    }
    ::close(fd);
    if (created && ::fsync(dir_fd_) != 0) {  // the new name itself must survive a crash
        error = errno_text("cannot sync", dir_, errno);
        // Take the file away again: the caller reports failure and keeps its old state, and
        // the next append must create the file anew (and sync the directory), not append to a
        // name that may not survive a crash.
        ::unlinkat(dir_fd_, id.c_str(), 0);
        return false;
    }
    return true;
}

bool StateJournal::rewrite(const std::string& id, const std::vector<JournalRecord>& records,
                           std::string& error) {
    std::string data;
    for (const JournalRecord& r : records) data += format_journal_record(r);
    const std::string tmp = id + ".tmp";
    int fd = ::openat(dir_fd_, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) {
        error = errno_text("cannot create", path_of(tmp), errno);
        return false;
    }
    int err = 0;
    bool ok = write_all(fd, data, err);
    if (ok && ::fdatasync(fd) != 0) {
        err = errno;
        ok = false;
    }
    ::close(fd);
    if (ok && ::renameat(dir_fd_, tmp.c_str(), dir_fd_, id.c_str()) != 0) {
        err = errno;
        ok = false;
    }
    if (!ok) {
        ::unlinkat(dir_fd_, tmp.c_str(), 0);
        error = errno_text("cannot rewrite", path_of(id), err);
        return false;
    }
    if (::fsync(dir_fd_) != 0) {
        error = errno_text("cannot sync", dir_, errno);
        return false;
    }
    return true;
}

std::optional<std::string> StateJournal::read(const std::string& id, std::string* error) const {
    int fd = ::openat(dir_fd_, id.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (error) *error = errno == ENOENT ? "" : errno_text("cannot open", path_of(id), errno);
        return std::nullopt;
    }
    std::string data;
    char buf[8192];
    while (data.size() < kMaxJournal) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            if (error) *error = errno_text("cannot read", path_of(id), errno);
            ::close(fd);
            return std::nullopt;
        }
        if (n == 0) break;
        data.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return data;
}

bool StateJournal::remove(const std::string& id) {
    return ::unlinkat(dir_fd_, id.c_str(), 0) == 0 || errno == ENOENT;
}

std::vector<std::string> StateJournal::list() const { return list_directory(dir_); }

}  // namespace petrel::queue
