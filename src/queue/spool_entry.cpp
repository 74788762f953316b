// queue/spool_entry.cpp — see spool_entry.h and docs/queue-format.md.
#include "queue/spool_entry.h"

#include "queue/codec.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace petrel::queue {

namespace {

constexpr std::string_view kMagic = "PETREL-SPOOL";
constexpr size_t kMaxHeader = kMaxSpoolHeader;

const char* body_name(mail::BodyType b) {
    switch (b) {
        case mail::BodyType::SevenBit: return "7BIT";
        case mail::BodyType::EightBitMime: return "8BITMIME";
        case mail::BodyType::BinaryMime: return "BINARYMIME";
    }
    return "7BIT";
}

const char* ret_name(mail::DsnRet r) {
    switch (r) {
        case mail::DsnRet::Unspecified: return "-";
        case mail::DsnRet::Full: return "FULL";
        case mail::DsnRet::Headers: return "HDRS";
    }
    return "-";
}

std::string notify_name(const mail::Notify& n) {
    if (!n.specified) return "-";
    if (n.never) return "NEVER";
    std::string out;
    auto add = [&](bool on, const char* name) {
        if (!on) return;
        if (!out.empty()) out += ',';
        out += name;
    };
    add(n.success, "SUCCESS");
    add(n.failure, "FAILURE");
    add(n.delay, "DELAY");
    return out.empty() ? "NONE" : out;
}

bool parse_flag(std::string_view s, bool& out) {
    if (s == "0") out = false;
    else if (s == "1") out = true;
    else return false;
    return true;
}

class HeaderParser {
public:
    HeaderParser(std::string_view bytes) : bytes_(bytes) {}

    // The next line's fields, which must start with `key` and have `n` fields after it
    // (n < 0: any number). False at end of input or on a mismatch.
    bool expect(std::string_view key, int n, std::vector<std::string_view>& fields) {
        if (!next_line(fields)) return false;
        if (fields.empty() || fields[0] != key) {
            error_ = "expected '" + std::string(key) + "'";
            return false;
        }
        if (n >= 0 && fields.size() != static_cast<size_t>(n) + 1) {
            error_ = "wrong field count in '" + std::string(key) + "'";
            return false;
        }
        return true;
    }

    bool next_line(std::vector<std::string_view>& fields) {
        size_t nl = bytes_.find('\n', pos_);
        if (nl == std::string_view::npos) {
            error_ = "header is truncated";
            return false;
        }
        line_start_ = pos_;
        fields = split_fields(bytes_.substr(pos_, nl - pos_));
        pos_ = nl + 1;
        return true;
    }

    bool peek_key(std::string_view key) const {
        std::string_view rest = bytes_.substr(pos_);
        return rest.size() > key.size() && rest.substr(0, key.size()) == key &&
               rest[key.size()] == ' ';
    }

    size_t pos() const { return pos_; }
    size_t line_start() const { return line_start_; }
    std::string& error() { return error_; }

private:
    std::string_view bytes_;
    size_t pos_ = 0;
    size_t line_start_ = 0;
    std::string error_;
};

ReadResult failed(std::string why) {
    ReadResult r;
    r.error = std::move(why);
    return r;
}

}  // namespace

std::string serialize_spool_header(const std::string& id, int64_t created_ms,
                                   const mail::Envelope& e,
                                   const std::vector<RecipientState>& states,
                                   std::string_view message) {
    std::string h;
    h.reserve(512 + e.recipients.size() * 96);
    auto line = [&](std::string_view key, std::initializer_list<std::string> fields) {
        h.append(key);
        for (const auto& f : fields) {
            h += ' ';
            h += f;
        }
        h += '\n';
    };
    line(kMagic, {std::to_string(kSpoolFormatVersion)});
    line("id", {encode_field(id)});
    line("created", {std::to_string(created_ms)});
    if (e.sender) line("sender", {encode_field(e.sender->local), encode_field(e.sender->domain)});
    else line("sender", {"<>"});
    line("size", {e.params.size ? std::to_string(*e.params.size) : "-"});
    line("body", {body_name(e.params.body)});
    line("smtputf8", {e.params.smtputf8 ? "1" : "0"});
    line("ret", {ret_name(e.params.ret)});
    line("envid", {encode_field(e.params.envid)});
    line("auth", {encode_field(e.params.auth)});
    const mail::SessionFacts& f = e.facts;
    line("session", {encode_field(f.session_id)});
    line("listener", {encode_field(f.listener)});
    line("client", {encode_field(f.client_ip), std::to_string(f.client_port)});
    line("helo", {encode_field(f.helo), f.esmtp ? "1" : "0"});
    line("tls", {f.tls ? "1" : "0", encode_field(f.tls_version), encode_field(f.tls_cipher)});
    line("auth-user", {encode_field(f.auth_user)});
    for (size_t i = 0; i < e.recipients.size(); ++i) {
        const mail::Recipient& r = e.recipients[i];
        RecipientState s = i < states.size() ? states[i] : RecipientState::Pending;
        line("rcpt", {std::string(1, state_letter(s)), notify_name(r.notify), encode_field(r.orcpt),
                      encode_field(r.mailbox.local), encode_field(r.mailbox.domain)});
    }
    line("message", {std::to_string(message.size()), crc32_hex(message)});
    line("crc", {crc32_hex(h)});
    return h;
}

ReadResult parse_spool_entry(std::string_view bytes, uint64_t record_size) {
    HeaderParser p(bytes);
    std::vector<std::string_view> f;
    auto bad = [&](const char* what) {
        return failed(p.error().empty() ? std::string(what) : p.error());
    };
    if (!p.expect(kMagic, 1, f)) return bad("not a petrel spool file");
    int version = 0;
    // Version 1 files differ only in having no state journal: read both (docs/queue-format.md).
    if (!parse_uint(f[1], version) || version < 1 || version > kSpoolFormatVersion) {
        return failed("unsupported spool format version '" + std::string(f[1]) + "'");
    }
    ReadResult r;
    SpoolEntry& s = r.entry;
    s.version = version;
    mail::Envelope& e = s.envelope;
    std::string tmp;
    if (!p.expect("id", 1, f) || !decode_field(f[1], s.id) || s.id.empty()) return bad("bad id");
    if (!p.expect("created", 1, f) || !parse_uint(f[1], s.created_ms)) return bad("bad created");
    if (!p.expect("sender", -1, f)) return bad("bad sender");
    if (f.size() == 2 && f[1] == "<>") {
        e.sender.reset();
    } else if (f.size() == 3) {
        mail::Mailbox m;
        if (!decode_field(f[1], m.local) || !decode_field(f[2], m.domain)) return bad("bad sender");
        e.sender = m;
    } else {
        return bad("bad sender");
    }
    if (!p.expect("size", 1, f)) return bad("bad size");
    if (f[1] != "-") {
        uint64_t v = 0;
        if (!parse_uint(f[1], v)) return bad("bad size");
        e.params.size = v;
    }
    if (!p.expect("body", 1, f)) return bad("bad body");
    if (f[1] == "7BIT") e.params.body = mail::BodyType::SevenBit;
    else if (f[1] == "8BITMIME") e.params.body = mail::BodyType::EightBitMime;
    else if (f[1] == "BINARYMIME") e.params.body = mail::BodyType::BinaryMime;
    else return bad("bad body");
    if (!p.expect("smtputf8", 1, f) || !parse_flag(f[1], e.params.smtputf8)) return bad("bad smtputf8");
    if (!p.expect("ret", 1, f)) return bad("bad ret");
    if (f[1] == "-") e.params.ret = mail::DsnRet::Unspecified;
    else if (f[1] == "FULL") e.params.ret = mail::DsnRet::Full;
    else if (f[1] == "HDRS") e.params.ret = mail::DsnRet::Headers;
    else return bad("bad ret");
    if (!p.expect("envid", 1, f) || !decode_field(f[1], e.params.envid)) return bad("bad envid");
    if (!p.expect("auth", 1, f) || !decode_field(f[1], e.params.auth)) return bad("bad auth");
    mail::SessionFacts& fa = e.facts;
    if (!p.expect("session", 1, f) || !decode_field(f[1], fa.session_id)) return bad("bad session");
    if (!p.expect("listener", 1, f) || !decode_field(f[1], fa.listener)) return bad("bad listener");
    if (!p.expect("client", 2, f) || !decode_field(f[1], fa.client_ip) || !parse_uint(f[2], fa.client_port)) {
        return bad("bad client");
    }
    if (!p.expect("helo", 2, f) || !decode_field(f[1], fa.helo) || !parse_flag(f[2], fa.esmtp)) return bad("bad helo");
    if (!p.expect("tls", 3, f) || !parse_flag(f[1], fa.tls) || !decode_field(f[2], fa.tls_version) ||
        !decode_field(f[3], fa.tls_cipher)) {
        return bad("bad tls");
    }
    if (!p.expect("auth-user", 1, f) || !decode_field(f[1], fa.auth_user)) return bad("bad auth-user");
    while (p.peek_key("rcpt")) {
        if (!p.expect("rcpt", 5, f)) return bad("bad rcpt");
        mail::Recipient rc;
        RecipientState st;
        if (!parse_state_letter(f[1], st)) return bad("bad rcpt state");
        if (f[2] != "-") {
            rc.notify.specified = true;
            if (f[2] == "NEVER") {
                rc.notify.never = true;
            } else if (f[2] != "NONE") {
                std::string_view list = f[2];
                size_t start = 0;
                while (start <= list.size()) {
                    size_t comma = list.find(',', start);
                    if (comma == std::string_view::npos) comma = list.size();
                    std::string_view w = list.substr(start, comma - start);
                    if (w == "SUCCESS") rc.notify.success = true;
                    else if (w == "FAILURE") rc.notify.failure = true;
                    else if (w == "DELAY") rc.notify.delay = true;
                    else return bad("bad rcpt notify");
                    start = comma + 1;
                }
            }
        }
        if (!decode_field(f[3], rc.orcpt) || !decode_field(f[4], rc.mailbox.local) || !decode_field(f[5], rc.mailbox.domain) ||
            rc.mailbox.local.empty()) {
            return bad("bad rcpt");
        }
        e.recipients.push_back(std::move(rc));
        s.states.push_back(st);
    }
    if (e.recipients.empty()) return bad("no recipients");
    // Version 3 adds the message's CRC-32: a record torn inside its message is detectable.
    if (!p.expect("message", version >= 3 ? 2 : 1, f) || !parse_uint(f[1], s.message_size)) {
        return bad("bad message length");
    }
    if (version >= 3) {
        uint32_t crc = 0;
        auto [end, ec] = std::from_chars(f[2].data(), f[2].data() + f[2].size(), crc, 16);
        if (f[2].size() != 8 || ec != std::errc() || end != f[2].data() + f[2].size()) {
            return bad("bad message crc");
        }
        s.message_crc = crc;
    }
    size_t crc_line = p.pos();
    if (!p.expect("crc", 1, f) || f[1].size() != 8) return bad("bad crc line");
    if (f[1] != crc32_hex(bytes.substr(0, crc_line))) return failed("header checksum mismatch");
    s.message_offset = p.pos();
    if (record_size == kRecordSizeUnknown) {
        r.ok = true;
        return r;
    }
    if (record_size < s.message_offset + s.message_size) return failed("message is truncated");
    if (record_size > s.message_offset + s.message_size) return failed("trailing bytes after message");
    r.ok = true;
    return r;
}

namespace {

// The record of `size` bytes at `base` in `fd`: the header, and the message when the record is
// at most `inline_max` bytes.
ReadResult read_record(int fd, uint64_t base, uint64_t size, uint64_t inline_max) {
    std::string buf;
    // Most headers are well under 4 KiB: one small read per record; a longer header (many
    // recipients) is read again with a larger buffer.
    size_t want = 4 * 1024;
    const bool whole = size <= inline_max;
    if (whole) want = std::max<size_t>(want, static_cast<size_t>(size));
    ReadResult r;
    while (true) {
        size_t limit = std::min<uint64_t>(want, size);
        buf.resize(limit);
        const size_t got = pread_full(fd, buf.data(), limit, base);
        buf.resize(got);
        if (spool_header_complete(buf) || got < limit || limit == size || want >= kMaxHeader) {
            r = parse_spool_entry(buf, size);
            if (r.ok && whole && got == size) {
                std::string_view msg = std::string_view(buf).substr(static_cast<size_t>(r.entry.message_offset));
                if (r.entry.message_crc && crc32(msg) != *r.entry.message_crc) {
                    return failed("message checksum mismatch");
                }
                r.message = std::string(msg);
            }
            break;
        }
        want *= 4;
    }
    if (r.ok) r.entry.message_offset += base;
    return r;
}

}  // namespace

bool spool_header_complete(std::string_view bytes) {
    const size_t crc = bytes.find("\ncrc ");
    return crc != std::string_view::npos && bytes.find('\n', crc + 1) != std::string_view::npos;
}

ReadResult read_spool_record(const std::string& path, uint64_t offset, uint64_t record_size,
                             uint64_t inline_max) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return failed(std::string("cannot open: ") + std::strerror(errno));
    ReadResult r = read_record(fd, offset, record_size, inline_max);
    ::close(fd);
    if (r.ok) r.entry.path = path;
    return r;
}

ReadResult read_spool_entry(const std::string& path, uint64_t inline_max) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return failed(std::string("cannot open: ") + std::strerror(errno));
    struct stat st{};
    if (fstat(fd, &st) != 0) {
        ::close(fd);
        return failed("cannot stat");
    }
    ReadResult r = read_record(fd, 0, static_cast<uint64_t>(st.st_size), inline_max);
    ::close(fd);
    if (r.ok) r.entry.path = path;
    return r;
}

}  // namespace petrel::queue
