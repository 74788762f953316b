// mail/envelope.h — the envelope of one message as petrel keeps it: reverse-path, recipients
// with their DSN parameters, and the facts of the session that accepted it.
//
// Pure data. Values here were validated by the parsers in mail/address.h and smtp/; consumers
// (queue/, delivery/) may trust their syntax but not their meaning.
// RFC 5321 §3.3 (envelope), RFC 3461 §4 (RET, ENVID, NOTIFY, ORCPT), RFC 1870 (SIZE),
// RFC 6152 / RFC 3030 (BODY), RFC 6531 (SMTPUTF8), RFC 4954 §5 (AUTH=).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace petrel::mail {

// A mailbox as it appears in a path: local-part@domain. The local part is kept exactly as the
// client sent it (quoted form included, RFC 5321 §4.1.2); the domain is normalized: lower-case
// A-labels (IDNA via libidn2), or an address literal such as "[192.0.2.1]" / "[IPv6:...]".
struct Mailbox {
    std::string local;   // as sent, e.g. "john" or "\"john doe\""
    std::string domain;  // normalized, e.g. "example.test", "xn--bcher-kva.test", "[127.0.0.1]"

    bool is_address_literal() const { return !domain.empty() && domain.front() == '['; }
    std::string str() const { return local + "@" + domain; }
    bool operator==(const Mailbox&) const = default;
};

enum class BodyType { SevenBit, EightBitMime, BinaryMime };
enum class DsnRet { Unspecified, Full, Headers };

// Parameters of MAIL FROM (RFC 5321 §4.1.1.2 and the extensions above).
struct MailParams {
    std::optional<uint64_t> size;  // SIZE=
    BodyType body = BodyType::SevenBit;
    bool smtputf8 = false;
    DsnRet ret = DsnRet::Unspecified;
    std::string envid;      // ENVID=, xtext-decoded (RFC 3461 §4.4)
    std::string auth;       // AUTH=, xtext-decoded; "<>" when the client sent AUTH=<>
};

// NOTIFY flags, RFC 3461 §4.1. `never` excludes the others.
struct Notify {
    bool success = false;
    bool failure = false;
    bool delay = false;
    bool never = false;
    bool specified = false;  // false: the default (FAILURE,DELAY at the MTA's discretion)
};

struct Recipient {
    Mailbox mailbox;
    Notify notify;
    std::string orcpt;  // ORCPT=, as "addr-type;xtext-decoded-address", or empty
};

// What petrel knew about the client when it accepted the message.
struct SessionFacts {
    std::string session_id;
    std::string listener;       // "mx" | "submission" | "submissions"
    std::string client_ip;      // textual, no brackets
    uint16_t client_port = 0;
    std::string helo;           // the EHLO/HELO argument, as sent (printable ASCII only)
    bool esmtp = false;         // EHLO rather than HELO
    bool tls = false;
    std::string tls_version;    // e.g. "TLSv1.3"
    std::string tls_cipher;     // e.g. "TLS_AES_256_GCM_SHA384"
    std::string auth_user;      // empty when not authenticated
};

struct Envelope {
    std::optional<Mailbox> sender;  // nullopt: the null reverse-path "<>"
    MailParams params;
    std::vector<Recipient> recipients;
    SessionFacts facts;
};

}  // namespace petrel::mail
