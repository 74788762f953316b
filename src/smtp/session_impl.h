// smtp/session_impl.h — internal: the state of one ServerSession (see server_session.h).
//
// Private to smtp/: split across server_session.cpp (input framing, actions, limits),
// session_commands.cpp (EHLO..QUIT, STARTTLS), session_mail.cpp (MAIL/RCPT and their
// parameters), session_body.cpp (DATA/BDAT) and session_auth.cpp (AUTH). Trust and RFCs: as in
// server_session.h. An idle session holds only the small members below: buffers grow with use
// and are released when a message or a burst of input is done (the idle-memory target).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "smtp/body_reader.h"
#include "smtp/command.h"
#include "smtp/server_session.h"

namespace petrel::smtp {

// Input accepted while an action is pending, beyond what was already buffered.
constexpr size_t kMaxPendingInput = 64 * 1024;

struct ServerSession::Impl {
    enum class Mode { Command, AuthWait, Data, Bdat, Closed };
    enum class Pending { None, StartTls, Auth, Commit };

    Impl(SessionConfig c, SessionPolicy& p, mail::SessionFacts f)
        : cfg(std::move(c)), policy(p), facts(std::move(f)) {}

    SessionConfig cfg;
    SessionPolicy& policy;
    mail::SessionFacts facts;

    Mode mode = Mode::Command;
    Pending pending = Pending::None;
    bool helo_done = false;
    unsigned errors = 0;

    // Transaction (RFC 5321 §3.3): from MAIL to the end of the message or RSET.
    bool in_transaction = false;
    mail::Envelope envelope;
    bool used_bdat = false;
    std::unique_ptr<DotReader> dot;
    std::unique_ptr<ChunkCollector> chunks;
    uint64_t bdat_remaining = 0;
    uint64_t bdat_size = 0;
    bool bdat_last = false;
    std::optional<Reply> bdat_error;  // answer after the chunk is consumed

    // AUTH exchange in progress (RFC 4954 §4).
    std::string auth_mech;      // "PLAIN" | "LOGIN" while in Mode::AuthWait
    std::string auth_login_user;
    std::string auth_username;  // kept for facts.auth_user until auth_result()

    // Input framing.
    std::string inbuf;          // unprocessed bytes (only while needed)
    bool discarding_line = false;
    size_t pending_input = 0;
    bool pending_overflow = false;
    bool tls_injection = false;

    Output* out = nullptr;  // the Output being built by the current public call

    // Binds `out` to a local Output for the duration of one public call.
    class OutputScope {
    public:
        OutputScope(Impl& impl, Output& o) : impl_(impl) { impl_.out = &o; }
        ~OutputScope() { impl_.out = nullptr; }
        OutputScope(const OutputScope&) = delete;
        OutputScope& operator=(const OutputScope&) = delete;

    private:
        Impl& impl_;
    };

    // server_session.cpp
    size_t process(std::string_view in);
    void handle_line(std::string_view line);
    void send(const Reply& r);
    void reject(const Reply& r, bool counts = true);
    void event(std::string kind, std::string detail);
    void close_with(const Reply& r);
    void reset_transaction();
    void check_error_limit();
    void request_commit();
    void resume();

    // session_commands.cpp
    void dispatch(const Command& cmd, std::string_view line);
    void cmd_ehlo(const Command& cmd, bool extended);
    void cmd_starttls(const Command& cmd, bool more_input);
    Reply ehlo_reply() const;

    // session_mail.cpp
    void cmd_mail(const Command& cmd);
    void cmd_rcpt(const Command& cmd);

    // session_body.cpp
    void cmd_data(const Command& cmd);
    void cmd_bdat(const Command& cmd);
    void finish_data();
    void finish_chunk();

    // session_auth.cpp
    void cmd_auth(const Command& cmd);
    void auth_response(std::string_view line);
    bool auth_allowed() const { return cfg.auth_enabled && (facts.tls || !cfg.auth_requires_tls); }

    bool more_input_after_line = false;  // set by process() for STARTTLS (CVE-2011-0411)
};

}  // namespace petrel::smtp
