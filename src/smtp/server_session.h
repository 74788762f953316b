// smtp/server_session.h — the inbound SMTP conversation as a pure state machine.
//
// Bytes in, replies and requests out; no sockets, no clock reads, no threads. The network layer
// (server/) moves bytes and answers the requests; unit tests and fuzz/smtp_session.cpp drive it
// directly. Input is untrusted peer bytes: every limit in smtp::Limits is enforced at the first
// byte that exceeds it, and nothing the peer sends can make the session allocate beyond them.
//
// Implements RFC 5321 (commands, §4.1; sequencing, §4.1.4; replies, §4.2; limits, §4.5.3),
// RFC 1870 SIZE, RFC 2920 PIPELINING, RFC 6152 8BITMIME, RFC 3030 CHUNKING/BINARYMIME,
// RFC 6531 SMTPUTF8, RFC 3461 DSN parameters, RFC 2034 ENHANCEDSTATUSCODES, RFC 3207 STARTTLS,
// RFC 4954 AUTH with PLAIN (RFC 4616) and LOGIN.
//
// Protocol of use:
//   Output out = session.start();            // greeting (or 554 if refused by the caller)
//   loop: out = session.feed(bytes);         // any number of bytes, any split
//         send out.wire; then act on out.action:
//           None         -> read more bytes and feed them
//           StartTls     -> run the TLS handshake, then out = session.tls_established(info)
//                           (bytes received before the handshake completed are already dropped
//                            by the session: CVE-2011-0411)
//           Authenticate -> verify out.auth, then out = session.auth_result(verdict)
//           Commit       -> store out.message, then out = session.commit_result(result)
//           Close        -> close the connection after sending out.wire
//   While an action is pending the session buffers (bounded) input and does not process it;
//   the resume call processes it. On a read deadline: out = session.timeout().
//   session.read_timeout() says which deadline applies now (command or data, §4.5.3.2).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mail/envelope.h"
#include "smtp/limits.h"
#include "smtp/reply.h"
#include "smtp/session_policy.h"

namespace petrel::smtp {

enum class ListenerKind { Mx, Submission, Submissions };

// Fixed for the life of a session; built by server/ from the config snapshot.
struct SessionConfig {
    std::string hostname = "localhost";  // greeting, EHLO reply
    ListenerKind kind = ListenerKind::Mx;
    Limits limits;
    bool tls_available = false;          // STARTTLS may be advertised (a context exists)
    bool tls_active = false;             // implicit TLS (submissions): TLS from the first byte
    bool auth_enabled = false;           // AUTH offered on this listener at all
    bool auth_requires_tls = true;       // AUTH advertised/accepted only under TLS
    bool require_auth = false;           // MAIL needs AUTH first (submission listeners)
    bool require_tls = false;            // MAIL needs TLS first (e.g. submission with STARTTLS)
};

struct AuthRequest {
    std::string mechanism;  // "PLAIN" | "LOGIN"
    std::string authzid;    // PLAIN only; may be empty
    std::string username;
    std::string password;   // never logged
};

enum class AuthVerdict {
    Ok,             // 235 2.7.0
    Failed,         // 535 5.7.8
    TemporaryFail,  // 454 4.7.0 (store unavailable)
    Throttled,      // 421 4.7.0 and close: too many failures from this client
};

struct TlsInfo {
    std::string version;  // "TLSv1.3"
    std::string cipher;
};

// A complete message as accepted: the envelope and the body exactly as received, after
// dot-unstuffing (DATA) or concatenation (BDAT). Lines end in CRLF. No Received header yet:
// server/ prepends it once the queue ID is known.
struct AcceptedMessage {
    mail::Envelope envelope;
    std::string body;
};

struct CommitResult {
    bool ok = false;
    std::string queue_id;                  // when ok: "250 2.0.0 Ok: queued as <queue_id>"
    std::optional<Reply> failure;          // when !ok: e.g. 452 4.3.1, 451 4.3.0, 550 5.7.1
};

enum class Action { None, StartTls, Authenticate, Commit, Close };

// A log-worthy happening; server/ turns these into log lines with the session ID.
// `detail` is already escaped and truncated (STYLE §5); AUTH payloads never appear.
struct SessionEvent {
    std::string kind;    // "command", "reject", "auth", "message", "error", "protocol"
    std::string detail;
};

struct Output {
    std::string wire;                      // replies to send, in order, before acting
    Action action = Action::None;
    std::optional<AuthRequest> auth;       // with Action::Authenticate
    std::optional<AcceptedMessage> message;// with Action::Commit
    std::vector<SessionEvent> events;
};

class ServerSession {
public:
    ServerSession(SessionConfig config, SessionPolicy& policy, mail::SessionFacts facts);
    ~ServerSession();
    ServerSession(const ServerSession&) = delete;
    ServerSession& operator=(const ServerSession&) = delete;

    Output start();                                  // 220 greeting
    Output feed(std::string_view bytes);
    Output tls_established(const TlsInfo& info);
    Output auth_result(AuthVerdict verdict);
    Output commit_result(const CommitResult& result);
    Output timeout();                                // 421 4.4.2 and Close

    std::chrono::milliseconds read_timeout() const;
    bool closed() const;
    const mail::SessionFacts& facts() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace petrel::smtp
