// delivery/maildir.cpp — see maildir.h. Every step is an openat()-relative system call on a
// directory descriptor, so a path is resolved once and no component below the root can be a
// symbolic link.
#include "delivery/maildir.h"

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>
#include <spdlog/spdlog.h>

#include "mail/local_part.h"

namespace petrel::delivery {

namespace {

// A descriptor closed when it goes out of scope.
class Fd {
public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
    Fd& operator=(Fd&& o) noexcept {
        std::swap(fd_, o.fd_);
        return *this;
    }
    Fd(const Fd&) = delete;
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    int get() const { return fd_; }
    bool ok() const { return fd_ >= 0; }
    int release() {
        int f = fd_;
        fd_ = -1;
        return f;
    }

private:
    int fd_;
};

constexpr mode_t kDirMode = 0700;
constexpr mode_t kFileMode = 0600;

DeliveryOutcome temporary(int err) {
    // RFC 3463: X.3.1 "mail system full"; anything else is a local error, X.3.0.
    if (err == ENOSPC || err == EDQUOT) return {false, false, "452 4.3.1 Insufficient system storage"};
    return {false, false, "451 4.3.0 Local delivery failed, will retry"};
}

DeliveryOutcome fail(int err, const std::string& what, const std::string& path) {
    spdlog::warn("maildir: {} {}: {}", what, path, std::strerror(err));
    return temporary(err);
}

// Opens the directory `name` under `parent`, creating it (0700) if missing; a new directory
// entry is made durable by fsyncing `parent`. Never follows a symbolic link. -1 and errno set.
int open_dir(int parent, const char* name) {
    const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int fd = ::openat(parent, name, flags);
    if (fd >= 0 || errno != ENOENT) return fd;
    if (::mkdirat(parent, name, kDirMode) != 0 && errno != EEXIST) return -1;
    fd = ::openat(parent, name, flags);
    if (fd >= 0 && ::fsync(parent) != 0) {
        int e = errno;
        ::close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

// The root (an operator's path: symbolic links allowed), created 0700 when missing.
int open_root(const std::string& root) {
    const int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
    int fd = ::open(root.c_str(), flags);
    if (fd >= 0 || errno != ENOENT) return fd;
    std::filesystem::path p(root);
    std::error_code ec;
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
    if (::mkdir(root.c_str(), kDirMode) != 0) {
        if (errno != EEXIST) return -1;
    } else {
        // The new entry is durable once its parent directory is synced.
        const std::string parent = p.has_parent_path() ? p.parent_path().string() : ".";
        int pfd = ::open(parent.c_str(), flags);
        if (pfd < 0) return -1;
        const int rc = ::fsync(pfd);
        ::close(pfd);
        if (rc != 0) return -1;
    }
    return ::open(root.c_str(), flags);
}

bool write_all(int fd, std::string_view data) {
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
}

// Writes `message` with every CRLF as LF, through a bounded buffer.
bool write_lf(int fd, std::string_view message) {
    std::string buf;
    buf.reserve(64 * 1024);
    for (size_t i = 0; i < message.size(); ++i) {
        if (message[i] == '\r' && i + 1 < message.size() && message[i + 1] == '\n') continue;
        buf += message[i];
        if (buf.size() == buf.capacity()) {
            if (!write_all(fd, buf)) return false;
            buf.clear();
        }
    }
    return write_all(fd, buf);
}

// Maildir protocol: '/' and ':' cannot appear in the host part of a name.
std::string escape_host(const std::string& host) {
    std::string out;
    for (char c : host) {
        if (c == '/') out += "\\057";
        else if (c == ':') out += "\\072";
        else out += c;
    }
    return out.empty() ? "localhost" : out;
}

std::string system_host() {
    char buf[HOST_NAME_MAX + 1] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    return buf;
}

// A header value built from an envelope address: parsed by mail/address.h, so it has no CR or
// LF; drop any control byte anyway, as a header line must not be split (RFC 5322 §2.2).
std::string header_safe(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) out += c;
    }
    return out;
}

}  // namespace

MaildirDelivery::MaildirDelivery(std::string maildir_root)
    : MaildirDelivery(std::move(maildir_root), nullptr) {}

MaildirDelivery::MaildirDelivery(std::string maildir_root, UserLookup lookup)
    : root_(std::move(maildir_root)), lookup_(std::move(lookup)), host_(escape_host(system_host())) {}

std::string MaildirDelivery::unique_name() {
    struct timeval tv {};
    ::gettimeofday(&tv, nullptr);
    uint64_t random = 0;
    if (::getrandom(&random, sizeof random, GRND_NONBLOCK) != sizeof random) {
        random = static_cast<uint64_t>(tv.tv_usec) * 0x9e3779b97f4a7c15ULL;  // still unique by Q
    }
    const uint64_t q = counter_.fetch_add(1, std::memory_order_relaxed);
    char buf[128];
    std::snprintf(buf, sizeof buf, "%lld.M%06ldP%ldQ%lluR%016llx.", static_cast<long long>(tv.tv_sec),
                  static_cast<long>(tv.tv_usec), static_cast<long>(::getpid()),
                  static_cast<unsigned long long>(q), static_cast<unsigned long long>(random));
    return buf + host_;
}

std::string MaildirDelivery::delivered_to(const std::string& user, const std::string& mailbox,
                                          const mail::Envelope& envelope) const {
    // The recipient this delivery is for: its local part as given, else (the caller passed
    // another spelling) the first recipient that reaches the same mailbox.
    for (const mail::Recipient& r : envelope.recipients) {
        if (r.mailbox.local == user) return r.mailbox.str();
    }
    for (const mail::Recipient& r : envelope.recipients) {
        auto name = lookup_ ? lookup_(r.mailbox.local) : mail::mailbox_name(r.mailbox.local);
        if (name && *name == mailbox) return r.mailbox.str();
    }
    return mailbox + "@" + host_;
}

DeliveryOutcome MaildirDelivery::deliver(const std::string& user, std::string_view message,
                                         const mail::Envelope& envelope) {
    if (!mail::mailbox_name(user)) {
        return {false, true, "550 5.1.3 Bad destination mailbox address syntax"};
    }
    auto mailbox = lookup_ ? lookup_(user) : mail::mailbox_name(user);
    if (!mailbox) return {false, true, "550 5.1.1 User unknown"};
    // The lookup is trusted code, but its answer becomes a path: same rule.
    if (mail::mailbox_name(*mailbox) != *mailbox) {
        return {false, true, "550 5.1.3 Bad destination mailbox address syntax"};
    }
    std::string header = "Return-Path: <";
    if (envelope.sender) header += header_safe(envelope.sender->str());
    header += ">\nDelivered-To: " + header_safe(delivered_to(user, *mailbox, envelope)) + "\n";
    return store(*mailbox, header, message);
}

DeliveryOutcome MaildirDelivery::store(const std::string& mailbox, const std::string& header,
                                       std::string_view message) {
    Fd root(open_root(root_));
    if (!root.ok()) return fail(errno, "cannot open or create", root_);
    const std::string where = root_ + "/" + mailbox;
    Fd user(open_dir(root.get(), mailbox.c_str()));
    if (!user.ok()) return fail(errno, "cannot open or create", where);
    Fd maildir(open_dir(user.get(), "Maildir"));
    if (!maildir.ok()) return fail(errno, "cannot open or create", where + "/Maildir");
    Fd tmp(open_dir(maildir.get(), "tmp"));
    Fd fresh(tmp.ok() ? open_dir(maildir.get(), "new") : -1);
    Fd cur(fresh.ok() ? open_dir(maildir.get(), "cur") : -1);  // readers expect all three
    if (!cur.ok()) return fail(errno, "cannot open or create tmp/new/cur in", where + "/Maildir");

    const std::string name = unique_name();
    Fd file(::openat(tmp.get(), name.c_str(),
                     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, kFileMode));
    if (!file.ok()) return fail(errno, "cannot create", where + "/Maildir/tmp/" + name);
    auto abandon = [&](const char* what) {
        const int e = errno;
        ::unlinkat(tmp.get(), name.c_str(), 0);
        errno = e;
        return fail(e, what, where + "/Maildir/tmp/" + name);
    };
    if (!write_all(file.get(), header) || !write_lf(file.get(), message)) return abandon("cannot write");
    // Durable before it is visible in new/ (Maildir protocol step 3, and STYLE §3).
    if (::fsync(file.get()) != 0) return abandon("cannot fsync");
    if (::close(file.release()) != 0) return abandon("cannot close");
    // RENAME_NOREPLACE: a name clash fails instead of replacing a delivered message.
    if (::renameat2(tmp.get(), name.c_str(), fresh.get(), name.c_str(), RENAME_NOREPLACE) != 0) {
        if (errno != EINVAL) return abandon("cannot rename into new/");
        // A file system without RENAME_NOREPLACE: link() refuses to replace, as the protocol says.
        if (::linkat(tmp.get(), name.c_str(), fresh.get(), name.c_str(), 0) != 0) {
            return abandon("cannot link into new/");
        }
        ::unlinkat(tmp.get(), name.c_str(), 0);
    }
    if (::fsync(fresh.get()) != 0) return fail(errno, "cannot fsync", where + "/Maildir/new");
    return {true, false, "250 2.0.0 Delivered to Maildir as " + name};
}

}  // namespace petrel::delivery
