// smtp/client_session.h — the outbound SMTP conversation (petrel as the client) as a pure
// state machine for ONE connection that may carry several transactions.
//
// Bytes from the server in; bytes to write, actions and results out. No sockets, no clock
// reads, no threads: delivery/ moves the bytes, unit tests and fuzz/smtp_client.cpp drive it
// directly. Trust: everything the server sends is untrusted; reply lines and the number of
// lines are bounded (ReplyLimits), input received while an action is pending is bounded, and a
// hostile server can make the session fail but not grow.
//
// Implements RFC 5321 (§3.1 greeting, §4.1.1.1 EHLO with the HELO fallback, §4.1.1.2-4 MAIL,
// RCPT, DATA, §4.1.1.5 RSET between transactions, §4.2 replies, §4.5.3.2 client timeouts),
// RFC 2920 PIPELINING (RSET, MAIL, RCPT* and DATA as one group, DATA last), RFC 1870 SIZE
// (checked before sending), RFC 6152 8BITMIME, RFC 3030 CHUNKING/BINARYMIME, RFC 6531 SMTPUTF8,
// RFC 3461 DSN parameters, RFC 3207 STARTTLS (anything the server sent before the handshake is
// dropped: the client side of CVE-2011-0411), RFC 4954 AUTH with PLAIN (RFC 4616) and LOGIN.
// Choices where the RFCs leave room: docs/smtp-protocol.md, "Client side".
//
// Protocol of use (delivery/ over a socket):
//   ClientSession s(config);                 // waits for the greeting
//   out = s.send(txn);                       // may be called at once: it starts when ready
//   loop: write out.wire; then act on out.action:
//           None     -> read bytes (deadline s.read_timeout()) and out = s.feed(bytes);
//                       on EOF/error out = s.connection_lost(); on the deadline out = s.timeout()
//           StartTls -> TLS handshake, then out = s.tls_established()  (failure: connection_lost)
//           SendBody -> out = s.continue_body()  (the next slice of the encoded message)
//           Close    -> close the connection (out.wire, e.g. QUIT, written first)
//         out.result: per-recipient outcome of a finished transaction; out.rcpt_replies as they
//         come; out.failure: the connection failed (no more transactions on it);
//         out.ready: the session is idle and takes the next send() or quit().
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mail/envelope.h"
#include "smtp/capabilities.h"
#include "smtp/reply.h"
#include "smtp/reply_parser.h"

namespace petrel::smtp {

enum class TlsMode {
    None,           // never STARTTLS
    Opportunistic,  // STARTTLS when offered; in clear when not offered or refused
    Required,       // STARTTLS or nothing: not offered / refused -> failure, nothing sent in clear
};

struct ClientCredentials {
    std::string username;
    std::string password;  // never logged
};

struct ClientLimits {
    ReplyLimits reply;
    size_t max_pending_input = 64 * 1024;  // bytes buffered while SendBody is pending
    size_t body_slice = 64 * 1024;          // stored octets encoded per SendBody step / BDAT chunk
    // RFC 5321 §4.5.3.2 client timeouts.
    std::chrono::milliseconds greeting_timeout{std::chrono::minutes(5)};  // §4.5.3.2.1
    std::chrono::milliseconds command_timeout{std::chrono::minutes(5)};   // MAIL, RCPT, others
    std::chrono::milliseconds data_init_timeout{std::chrono::minutes(2)}; // §4.5.3.2.4
    std::chrono::milliseconds data_end_timeout{std::chrono::minutes(10)}; // §4.5.3.2.6
};

// Fixed for the life of a connection; built by delivery/ from the destination's policy.
struct ClientConfig {
    std::string helo_name = "localhost";  // EHLO/HELO argument: our hostname
    TlsMode tls = TlsMode::Opportunistic;
    bool implicit_tls = false;            // TLS from the first byte (port 465): no STARTTLS
    std::optional<ClientCredentials> credentials;  // smart host: AUTH PLAIN or LOGIN
    bool auth_requires_tls = true;        // never send credentials in clear
    ClientLimits limits;
};

// The stored message, read in slices. delivery/ implements it over the spool file; tests and
// small messages use StringSource. Called only from inside the session's public calls.
class MessageSource {
public:
    virtual ~MessageSource() = default;
    virtual uint64_t size() const = 0;  // octets as stored (the SIZE= estimate, RFC 1870 §3)
    // The next slice of at most `max` octets (empty at the end); valid until the next call.
    // nullopt: the message cannot be read (the session drops the connection without ending DATA).
    virtual std::optional<std::string_view> read(size_t max) = 0;
};

class StringSource final : public MessageSource {
public:
    explicit StringSource(std::string s) : data_(std::move(s)) {}
    uint64_t size() const override { return data_.size(); }
    std::optional<std::string_view> read(size_t max) override;

private:
    std::string data_;
    size_t pos_ = 0;
};

// One message to send: the envelope (sender, MAIL parameters, recipients with NOTIFY/ORCPT)
// and its content. Recipient results refer to envelope.recipients by index.
struct ClientTransaction {
    mail::Envelope envelope;
    std::shared_ptr<MessageSource> message;
    bool requires_smtputf8 = false;  // see message_requires_smtputf8()
};

// RFC 6531 §3.2: the message needs an SMTPUTF8 server when it was sent with SMTPUTF8 and an
// envelope address or the header section holds non-ASCII (as Postfix's autodetection).
bool message_requires_smtputf8(const mail::Envelope& envelope, std::string_view header_section);

// A reply as one line for a DSN's Diagnostic-Code or a log: "550 5.1.1 first line; second".
std::string reply_text(const Reply& r);

enum class ClientAction { None, StartTls, SendBody, Close };

enum class RecipientStatus { Delivered, Deferred, Failed };  // 2xx, 4xx (retry), 5xx (bounce)

struct RecipientResult {
    size_t index = 0;          // into envelope.recipients
    RecipientStatus status = RecipientStatus::Deferred;
    Reply reply;               // the server's reply, or one petrel made up (from_server false)
    bool from_server = false;  // a DSN's Diagnostic-Code only names a server's reply
    std::string stage;         // "RCPT TO", "end of data", "SIZE check", ... (in reply to what)
};

struct TransactionResult {
    std::vector<RecipientResult> recipients;  // one per envelope recipient, in order
};

struct RcptReply {
    size_t index = 0;
    Reply reply;
};

// The connection cannot carry (more) mail. The recipients of the pending transaction already
// have results classified by `permanent`; delivery/ may still try the next MX instead.
struct ConnectionFailure {
    Reply reply;
    bool from_server = false;
    std::string stage;       // "greeting", "EHLO", "STARTTLS", "AUTH", "connection", ...
    bool permanent = false;  // a 5xx greeting or EHLO+HELO refusal; AUTH/TLS trouble is never
};

// A log-worthy happening. `detail` is escaped and truncated; AUTH payloads never appear.
struct ClientEvent {
    std::string kind;  // "reply" (every reply, every line), "command", "protocol", "tls"
    std::string detail;
};

struct ClientOutput {
    std::string wire;  // to write, in order, before acting
    ClientAction action = ClientAction::None;
    std::optional<Reply> greeting;
    std::optional<Capabilities> capabilities;  // after each EHLO (again after STARTTLS)
    std::vector<RcptReply> rcpt_replies;
    std::optional<TransactionResult> result;
    std::optional<ConnectionFailure> failure;
    std::vector<ClientEvent> events;
    bool ready = false;  // idle: send() or quit() may be called
};

class ClientSession {
public:
    explicit ClientSession(ClientConfig config);
    ~ClientSession();
    ClientSession(const ClientSession&) = delete;
    ClientSession& operator=(const ClientSession&) = delete;

    ClientOutput feed(std::string_view bytes);
    ClientOutput tls_established();
    ClientOutput continue_body();
    // Queues one transaction; it starts now when ready, else when the handshake is done.
    // Only one transaction at a time: a second send() before the result is refused (assert-free:
    // its recipients come back Deferred with stage "busy").
    ClientOutput send(ClientTransaction txn);
    ClientOutput quit();              // QUIT when idle (or after the current transaction), then Close
    ClientOutput connection_lost();   // EOF or I/O error: pending recipients deferred
    ClientOutput timeout();           // read deadline: pending recipients deferred, Close

    std::chrono::milliseconds read_timeout() const;
    bool ready() const;
    bool closed() const;
    bool tls_active() const;
    bool authenticated() const;
    const Capabilities& capabilities() const;
    unsigned transactions() const;  // finished on this connection (for reuse limits)

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace petrel::smtp
