// fuzz/spool_record.cpp — libFuzzer target for the spool record parser (queue/spool_entry.h,
// docs/queue-format.md), which reads bytes back from disk that a crash, a bad disk or a hand
// edit may have torn or corrupted (segment records of version 3, message files of 1 and 2).
//
// The input is the bytes of a record. It is parsed as a whole record (record_size = its
// length, as for a version 1/2 file or a record read at its index location) and as the start
// of a segment (kRecordSizeUnknown, as the start-up scan does). Only the parser runs: no file
// I/O, so each input is fast. Checked beyond memory safety: ok and error agree; an accepted
// record is one recipient state per recipient, at least one, a version from 1 to 3 with a
// message CRC exactly for version 3, a header inside the input and (whole record) a message
// that ends exactly at the end of the input; what the whole-record parse accepts the header
// parse accepts too, with the same layout; and an accepted record serialized again parses back
// to the same values.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "queue/spool_entry.h"

using namespace petrel;
using namespace petrel::queue;

namespace {

void check_entry(const ReadResult& r, size_t input_size) {
    if (r.ok != r.error.empty()) __builtin_trap();
    if (!r.ok) return;
    const SpoolEntry& e = r.entry;
    if (e.envelope.recipients.empty()) __builtin_trap();
    if (e.states.size() != e.envelope.recipients.size()) __builtin_trap();
    if (e.version < 1 || e.version > kSpoolFormatVersion) __builtin_trap();
    if (e.message_crc.has_value() != (e.version >= 3)) __builtin_trap();
    if (e.message_offset == 0 || e.message_offset > input_size) __builtin_trap();
}

bool same_envelope(const mail::Envelope& a, const mail::Envelope& b) {
    if (a.sender.has_value() != b.sender.has_value()) return false;
    if (a.sender && !(*a.sender == *b.sender)) return false;
    if (a.params.size != b.params.size || a.params.body != b.params.body ||
        a.params.smtputf8 != b.params.smtputf8 || a.params.ret != b.params.ret ||
        a.params.envid != b.params.envid || a.params.auth != b.params.auth) {
        return false;
    }
    const mail::SessionFacts &f = a.facts, &g = b.facts;
    if (f.session_id != g.session_id || f.listener != g.listener || f.client_ip != g.client_ip ||
        f.client_port != g.client_port || f.helo != g.helo || f.esmtp != g.esmtp || f.tls != g.tls ||
        f.tls_version != g.tls_version || f.tls_cipher != g.tls_cipher || f.auth_user != g.auth_user) {
        return false;
    }
    if (a.recipients.size() != b.recipients.size()) return false;
    for (size_t i = 0; i < a.recipients.size(); ++i) {
        const mail::Recipient &x = a.recipients[i], &y = b.recipients[i];
        if (!(x.mailbox == y.mailbox) || x.orcpt != y.orcpt || x.notify.specified != y.notify.specified ||
            x.notify.never != y.notify.never || x.notify.success != y.notify.success ||
            x.notify.failure != y.notify.failure || x.notify.delay != y.notify.delay) {
            return false;
        }
    }
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);

    const ReadResult whole = parse_spool_entry(bytes, size);
    check_entry(whole, size);
    const ReadResult head = parse_spool_entry(bytes, kRecordSizeUnknown);
    check_entry(head, size);

    if (whole.ok) {
        if (whole.entry.message_offset + whole.entry.message_size != size) __builtin_trap();
        // The whole-record check is the header check plus the length.
        if (!head.ok || head.entry.message_offset != whole.entry.message_offset ||
            head.entry.message_size != whole.entry.message_size) {
            __builtin_trap();
        }
        // Serialized again (as version 3), the record reads back to the same values.
        const SpoolEntry& e = whole.entry;
        const std::string_view message = bytes.substr(static_cast<size_t>(e.message_offset));
        const std::string again = serialize_spool_header(e.id, e.created_ms, e.envelope, e.states, message) +
                                  std::string(message);
        const ReadResult back = parse_spool_entry(again, again.size());
        if (!back.ok) __builtin_trap();
        const SpoolEntry& b = back.entry;
        if (b.id != e.id || b.created_ms != e.created_ms || b.states != e.states ||
            b.message_size != e.message_size || b.version != kSpoolFormatVersion ||
            !same_envelope(b.envelope, e.envelope)) {
            __builtin_trap();
        }
    }
    return 0;
}
