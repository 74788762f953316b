// dns/message.cpp — bounds-checked walk over a DNS response (see message.h for the contract).
#include "dns/message.h"

#include <ares.h>

#include <algorithm>
#include <string>

namespace petrel::dns {

namespace {

constexpr uint16_t kClassIn = 1;
constexpr uint16_t kTypeSoa = 6;
constexpr int kMaxLabels = 128;  // a name has at most 127 labels in 255 bytes

// RFC 2181 §8: a TTL with the most significant bit set is treated as zero.
uint32_t sane_ttl(uint32_t ttl) { return ttl > 0x7fffffffu ? 0 : ttl; }

class Reader {
public:
    Reader(const uint8_t* b, size_t n) : b_(b), n_(n) {}

    bool ok() const { return ok_; }
    size_t pos() const { return pos_; }
    void seek(size_t p) {
        if (p > n_) ok_ = false;
        else pos_ = p;
    }
    bool need(size_t k) {
        if (!ok_ || k > n_ - pos_) ok_ = false;
        return ok_;
    }
    uint16_t u16() {
        if (!need(2)) return 0;
        uint16_t v = static_cast<uint16_t>(b_[pos_] << 8 | b_[pos_ + 1]);
        pos_ += 2;
        return v;
    }
    uint32_t u32() {
        uint32_t hi = u16();
        return hi << 16 | u16();
    }
    const uint8_t* bytes(size_t k) {
        if (!need(k)) return nullptr;
        const uint8_t* p = b_ + pos_;
        pos_ += k;
        return p;
    }
    // Steps over an encoded name without expanding it: labels up to a zero byte or a
    // compression pointer (which ends the name as far as this position is concerned).
    void skip_name() {
        for (int i = 0; i < kMaxLabels && need(1); ++i) {
            uint8_t len = b_[pos_];
            if ((len & 0xC0) == 0xC0) {
                bytes(2);
                return;
            }
            if (len & 0xC0) break;  // RFC 6891 §5 extended label types: not supported
            ++pos_;
            if (len == 0) return;
            bytes(len);
        }
        ok_ = false;
    }
    // Expands the name at the current position (following compression pointers anywhere in the
    // message: c-ares checks they stay inside it and do not loop).
    std::optional<std::string> name() {
        if (!need(1)) return std::nullopt;
        char* s = nullptr;
        long used = 0;
        if (ares_expand_name(b_ + pos_, b_, static_cast<int>(n_), &s, &used) != ARES_SUCCESS) {
            ok_ = false;
            return std::nullopt;
        }
        std::string out(s);
        ares_free_string(s);
        bytes(static_cast<size_t>(used));
        return out;
    }

private:
    const uint8_t* b_;
    size_t n_;
    size_t pos_ = 0;
    bool ok_ = true;
};

// Decodes one TXT RDATA: character-strings (a length byte, then that many bytes) filling it.
bool read_txt(Reader& r, size_t end, TxtRecord& out) {
    while (r.ok() && r.pos() < end) {
        const uint8_t* len = r.bytes(1);
        if (!len || r.pos() + *len > end) return false;
        const uint8_t* s = r.bytes(*len);
        if (!s) return false;
        out.strings.emplace_back(reinterpret_cast<const char*>(s), *len);
        out.text.append(reinterpret_cast<const char*>(s), *len);
    }
    return r.ok();
}

// One record of the asked type: appends it to `out`; false when its RDATA is malformed.
bool read_rdata(Reader& r, RecordType type, size_t end, size_t rdlen, DecodedMessage& out) {
    switch (type) {
        case RecordType::A: {
            if (rdlen != 4) return false;
            out.addresses.push_back(IpAddress::v4_from(r.bytes(4)));
            return r.ok();
        }
        case RecordType::Aaaa: {
            if (rdlen != 16) return false;
            out.addresses.push_back(IpAddress::v6_from(r.bytes(16)));
            return r.ok();
        }
        case RecordType::Mx: {
            MxRecord mx;
            mx.preference = r.u16();
            auto name = r.name();
            if (!name || r.pos() > end) return false;
            mx.exchange = std::move(*name);
            out.mx.push_back(std::move(mx));
            return true;
        }
        case RecordType::Ptr: {
            auto name = r.name();
            if (!name || r.pos() > end) return false;
            out.ptr.push_back(PtrRecord{std::move(*name)});
            return true;
        }
        case RecordType::Txt: {
            TxtRecord txt;
            if (!read_txt(r, end, txt)) return false;
            out.txt.push_back(std::move(txt));
            return true;
        }
    }
    return false;
}

}  // namespace

DecodedMessage decode_message(const uint8_t* message, size_t length, RecordType type) {
    DecodedMessage out;
    Reader r(message, length);
    r.u16();  // ID: c-ares matched it to the query
    uint16_t flags = r.u16();
    uint16_t qdcount = r.u16();
    uint16_t ancount = r.u16();
    uint16_t nscount = r.u16();
    r.u16();  // ARCOUNT: the additional section is not read
    if (!r.ok()) return out;
    out.rcode = static_cast<uint8_t>(flags & 0x0F);

    for (unsigned i = 0; i < qdcount && r.ok(); ++i) {
        r.skip_name();
        r.bytes(4);  // QTYPE, QCLASS
    }
    for (unsigned section = 0; section < 2; ++section) {
        unsigned count = section == 0 ? ancount : nscount;
        for (unsigned i = 0; i < count && r.ok(); ++i) {
            r.skip_name();
            uint16_t rtype = r.u16();
            uint16_t rclass = r.u16();
            uint32_t ttl = sane_ttl(r.u32());
            uint16_t rdlen = r.u16();
            if (!r.need(rdlen)) return out;
            size_t start = r.pos();
            size_t end = start + rdlen;
            if (section == 0 && rclass == kClassIn && rtype == static_cast<uint16_t>(type)) {
                if (!read_rdata(r, type, end, rdlen, out)) return out;
                out.min_ttl = std::min(out.min_ttl.value_or(ttl), ttl);
            } else if (section == 1 && rtype == kTypeSoa && !out.negative_ttl) {
                r.skip_name();  // MNAME
                r.skip_name();  // RNAME
                r.bytes(16);    // SERIAL REFRESH RETRY EXPIRE
                uint32_t minimum = sane_ttl(r.u32());
                if (!r.ok() || r.pos() > end) return out;
                out.negative_ttl = std::min(ttl, minimum);
            }
            r.seek(end);
        }
    }
    out.well_formed = r.ok();
    return out;
}

}  // namespace petrel::dns
