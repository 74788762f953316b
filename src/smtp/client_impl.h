// smtp/client_impl.h — internal: the state of one ClientSession (see client_session.h).
//
// Private to smtp/: split across client_session.cpp (input framing, public calls, failures),
// client_handshake.cpp (greeting, EHLO/HELO, STARTTLS, AUTH) and client_transaction.cpp
// (RSET, MAIL, RCPT, DATA/BDAT, the body). Trust and RFCs: as in client_session.h.
#pragma once

#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "mail/wire_encoding.h"
#include "smtp/client_session.h"

namespace petrel::smtp {

struct ClientSession::Impl {
    enum class Phase { Handshake, TlsWait, Ready, Txn, Body, Quit, Closed };

    // What the next reply answers (RFC 5321 §4.3.2 sequencing; several with PIPELINING).
    enum class Expect { Greeting, Ehlo, Helo, StartTls, AuthPlain, AuthLoginUser, AuthLoginPass,
                        AuthLoginDone, Rset, Mail, Rcpt, Data, Dot, DotDiscard, Bdat, Quit };
    struct Expected {
        Expect what;
        size_t index = 0;   // Rcpt: recipient index
        bool last = false;  // Bdat: the LAST chunk
    };
    // Commands of the current transaction not yet written (one at a time without PIPELINING).
    enum class Cmd { Rset, Mail, Rcpt, Data, Bdat };
    struct Pending {
        Cmd cmd;
        size_t index = 0;
    };

    explicit Impl(ClientConfig c) : cfg(std::move(c)), parser(cfg.limits.reply), tls_on(cfg.implicit_tls) {
        expected.push_back({Expect::Greeting});
    }

    ClientConfig cfg;
    ReplyParser parser;
    Phase phase = Phase::Handshake;
    std::deque<Expected> expected;
    Capabilities caps;
    bool tls_on = false;
    bool authed = false;
    bool quit_requested = false;
    bool need_rset = false;  // a MAIL was sent since the last RSET (RFC 5321 §4.1.1.5)
    unsigned done_txns = 0;
    std::string inbuf;       // input received while the body is being sent (bounded)

    // The current transaction.
    std::optional<ClientTransaction> txn;
    std::deque<Pending> cmds;
    std::vector<std::optional<RecipientResult>> outcome;
    std::vector<bool> accepted;
    size_t accepted_count = 0;
    bool mail_failed = false;
    bool use_bdat = false;
    mail::WireEncoder encoder;
    uint64_t body_sent = 0;

    ClientOutput* out = nullptr;
    class OutputScope {
    public:
        OutputScope(Impl& i, ClientOutput& o) : impl_(i) { impl_.out = &o; }
        ~OutputScope() {
            impl_.out->ready = impl_.phase == Phase::Ready;
            impl_.out = nullptr;
        }
        OutputScope(const OutputScope&) = delete;
        OutputScope& operator=(const OutputScope&) = delete;

    private:
        Impl& impl_;
    };

    // client_session.cpp
    void process(std::string_view in);
    void on_reply(Reply r);
    void event(std::string kind, std::string detail);
    void write(std::string_view line, Expected e, std::string_view log_as = {});
    void fail(Reply r, bool from_server, std::string stage, bool permanent, bool send_quit);
    void settle_pending(const Reply& r, bool from_server, const std::string& stage, bool permanent);
    static std::string stage_of(Expect e);

    // client_handshake.cpp
    void on_handshake_reply(const Expected& e, const Reply& r);
    void send_ehlo();
    void after_ehlo();
    void after_tls_decision();
    void become_ready();

    // client_transaction.cpp
    void start_txn();
    void on_txn_reply(const Expected& e, const Reply& r);
    void advance();
    void emit(const Pending& p);
    void body_step();
    void bdat_step();
    void set_outcome(size_t i, const Reply& r, bool from_server, std::string stage);
    void finish_txn();
    void refuse_all(const Reply& r, std::string stage);
};

RecipientStatus status_of(const Reply& r);

}  // namespace petrel::smtp
