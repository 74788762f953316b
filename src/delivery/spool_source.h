// delivery/spool_source.h — smtp::MessageSource over a message in its spool segment file.
//
// Streams the stored message (headers and body, as the queue wrote them) in slices with
// pread, so a 35 MiB message costs one slice buffer, not 35 MiB, per connection. The file
// descriptor is opened at construction: if the queue unlinks the file meanwhile (delete by the
// operator) the open descriptor still reads the whole message, which is what a transaction
// already started needs. Trust: the file is petrel's own; a short read (a damaged disk) ends
// the body with nullopt and the session drops the connection without the final dot.
// PrefixSource puts petrel's own header fields (the DKIM-Signature, RFC 6376 §5.6: prepended)
// before such a source on the wire, so the stored record itself is never changed.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "smtp/client_session.h"

namespace petrel::delivery {

class SpoolSource final : public smtp::MessageSource {
public:
    // `path`: the segment file; the message is `size` bytes at `offset`.
    SpoolSource(const std::string& path, uint64_t offset, uint64_t size);
    ~SpoolSource() override;
    SpoolSource(const SpoolSource&) = delete;
    SpoolSource& operator=(const SpoolSource&) = delete;

    bool ok() const { return fd_ >= 0; }
    uint64_t size() const override { return size_; }
    std::optional<std::string_view> read(size_t max) override;

private:
    int fd_ = -1;
    uint64_t offset_, size_, pos_ = 0;
    std::string buffer_;
};

// `prefix` (complete CRLF-ended header fields), then everything `rest` yields.
class PrefixSource final : public smtp::MessageSource {
public:
    PrefixSource(std::string prefix, std::shared_ptr<smtp::MessageSource> rest)
        : prefix_(std::move(prefix)), rest_(std::move(rest)) {}
    uint64_t size() const override { return prefix_.size() + rest_->size(); }
    std::optional<std::string_view> read(size_t max) override;

private:
    std::string prefix_;
    size_t pos_ = 0;
    std::shared_ptr<smtp::MessageSource> rest_;
};

}  // namespace petrel::delivery
