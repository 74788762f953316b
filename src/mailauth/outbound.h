// mailauth/outbound.h — what petrel adds to a message on its way out by SMTP: DKIM signatures
// (dkim/key_store.h) and, for mail it received on an mx listener and now relays onward, an ARC
// set (arc/sealer.h). Holds the keys as one immutable snapshot that SIGHUP swaps whole.
//
// Trust: messages come from petrel's own spool, but their header sections were written by
// strangers; they are parsed with the same bounded parser as inbound mail. What is sealed is
// only what petrel itself recorded: the Authentication-Results field naming petrel's
// authserv-id, on mail that came in on an mx listener without AUTH (where server/ removed
// any forged field of that name first, RFC 8601 §5). Submission mail is never sealed: its
// sender could have written such a field.
// RFC 8617 §5.1 (sealing: AAR = this hop's results, cv = the chain as this hop validated it,
// recorded as arc= in the same results), RFC 6376 §5 (signing, via dkim::sign_outbound).
// Order: DKIM first, then the ARC set on top of the signed message, so the AMS covers the
// DKIM-Signature this hop added (docs/arc.md "Sealing forwarded mail").
// Threads: snapshot()/reload() may be called from any thread (a mutex guards the pointer);
// a snapshot is immutable and shared.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "mail/envelope.h"
#include "mailauth/arc/verifier.h"
#include "mailauth/dkim/key_store.h"

namespace petrel::mailauth {

struct OutboundKeys {
    dkim::SigningKeys dkim;
    std::optional<dkim::SigningKey> seal;  // [authentication] arc_seal's key, when found
};

struct KeyLoadReport {
    std::vector<std::string> errors;    // key files that could not be used (each names the file)
    std::vector<std::string> warnings;  // configuration without a key, and the like
    std::vector<std::string> notes;     // what is in use: "dkim: signing for d (2 key(s))", ...
};

// Reads every key as [dkim] and [authentication] ask. Errors do not stop the load: the keys
// that could be read are returned (start-up logs the errors and runs with the rest).
std::shared_ptr<const OutboundKeys> load_outbound_keys(const config::Config& cfg, KeyLoadReport& report);

// The arc= result recorded in an Authentication-Results field value (RFC 8601 §2.2: resinfo
// "arc=<result>", quoted strings and comments skipped), lower case; "" when there is none.
std::string arc_result_of(std::string_view ar_value);

// The payload of petrel's own Authentication-Results field in `header_section` (the topmost
// one naming `authserv_id`), as written after "Authentication-Results:" without leading
// whitespace or the final CRLF; nullopt when there is none.
std::optional<std::string> own_results(std::string_view header_section, std::string_view authserv_id);

struct Prepared {
    std::string fields;       // to send before the stored message: ARC set, then DKIM-Signature(s)
    std::string dkim_domain;  // d= signed with, "" when not signed
    int arc_instance = 0;     // i= of the ARC set added, 0 when not sealed
    std::vector<std::string> warnings;  // why something was not done (for the log)
};

class OutboundAuth {
public:
    // Loads the keys (report filled as load_outbound_keys does). `cfg` outlives this object.
    OutboundAuth(const config::Config& cfg, KeyLoadReport& report);

    // Reads the keys again. When any key file fails (report.errors), the old keys stay in use
    // and false is returned; otherwise the new snapshot replaces the old one at once.
    bool reload(KeyLoadReport& report);

    std::shared_ptr<const OutboundKeys> snapshot() const;

    // False when there is no key at all (no DKIM key, no sealing key): delivery then reads
    // nothing of the message for signing.
    bool active() const;

    // Cheap test on the header section (the first KiB of the message are enough): is there
    // anything to do for this message? (A key for its From domain, or a seal to add.)
    bool has_work(std::string_view header_section, const mail::Envelope& envelope) const;

    // The fields to prepend to `message` (CRLF line ends). Never fails: what cannot be done is
    // in `warnings` and the message goes out without it.
    Prepared prepare(std::string_view message, const mail::Envelope& envelope, uint64_t now) const;

private:
    bool should_seal(const mail::Envelope& envelope) const;
    std::string authserv_id() const;

    const config::Config& cfg_;
    mutable std::mutex mutex_;
    std::shared_ptr<const OutboundKeys> keys_;
};

}  // namespace petrel::mailauth
