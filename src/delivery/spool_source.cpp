// delivery/spool_source.cpp — see spool_source.h.
#include "delivery/spool_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace petrel::delivery {

SpoolSource::SpoolSource(const std::string& path, uint64_t offset, uint64_t size)
    : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)), offset_(offset), size_(size) {}

SpoolSource::~SpoolSource() {
    if (fd_ >= 0) ::close(fd_);
}

std::optional<std::string_view> SpoolSource::read(size_t max) {
    if (fd_ < 0) return std::nullopt;
    const size_t want = static_cast<size_t>(std::min<uint64_t>(max, size_ - pos_));
    if (want == 0) return std::string_view();
    buffer_.resize(want);
    size_t got = 0;
    while (got < want) {
        ssize_t n = ::pread(fd_, buffer_.data() + got, want - got,
                            static_cast<off_t>(offset_ + pos_ + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return std::nullopt;  // truncated or unreadable: never send a partial message
        got += static_cast<size_t>(n);
    }
    pos_ += got;
    return std::string_view(buffer_.data(), got);
}

std::optional<std::string_view> PrefixSource::read(size_t max) {
    if (pos_ < prefix_.size() && max > 0) {
        const size_t n = std::min(max, prefix_.size() - pos_);
        std::string_view slice(prefix_.data() + pos_, n);
        pos_ += n;
        return slice;
    }
    return rest_->read(max);
}

}  // namespace petrel::delivery
