// tests/unit/smtp/client_harness.h — drives a ClientSession like delivery/ would: resolves
// StartTls (at once, unless told not to) and SendBody, and records what the client wrote
// (with [TLS] and [CLOSE] markers), every result, failure, RCPT reply and event.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/client_session.h"

namespace petrel::smtp::testing {

struct ClientHarness {
    ClientConfig cfg;
    std::unique_ptr<ClientSession> session;
    std::string wire;
    std::vector<TransactionResult> results;
    std::vector<ConnectionFailure> failures;
    std::vector<RcptReply> rcpts;
    std::vector<ClientEvent> events;
    std::vector<Capabilities> caps;
    std::vector<Reply> greetings;
    bool auto_tls = true;
    bool tls_pending = false;
    bool closed_seen = false;
    int body_steps = 0;

    ClientHarness() {
        cfg.helo_name = "client.test";
        cfg.tls = TlsMode::None;
    }

    ClientHarness& start() {
        session = std::make_unique<ClientSession>(cfg);
        return *this;
    }

    std::string handle(ClientOutput o) {
        std::string written;
        for (int guard = 0; guard < 100000; ++guard) {
            written += o.wire;
            wire += o.wire;
            if (o.greeting) greetings.push_back(*o.greeting);
            if (o.capabilities) caps.push_back(*o.capabilities);
            for (auto& r : o.rcpt_replies) rcpts.push_back(r);
            if (o.result) results.push_back(*o.result);
            if (o.failure) failures.push_back(*o.failure);
            for (auto& e : o.events) events.push_back(e);
            switch (o.action) {
                case ClientAction::None:
                    return written;
                case ClientAction::StartTls:
                    wire += "[TLS]";
                    if (!auto_tls) {
                        tls_pending = true;
                        return written;
                    }
                    o = session->tls_established();
                    continue;
                case ClientAction::SendBody:
                    ++body_steps;
                    o = session->continue_body();
                    continue;
                case ClientAction::Close:
                    wire += "[CLOSE]";
                    closed_seen = true;
                    return written;
            }
        }
        return written;
    }

    std::string feed(std::string_view bytes) { return handle(session->feed(bytes)); }
    std::string send(ClientTransaction t) { return handle(session->send(std::move(t))); }
    std::string quit() { return handle(session->quit()); }

    bool has_event(std::string_view kind, std::string_view needle) const {
        for (const auto& e : events)
            if (e.kind == kind && e.detail.find(needle) != std::string::npos) return true;
        return false;
    }
    bool events_contain(std::string_view needle) const {
        for (const auto& e : events)
            if (e.detail.find(needle) != std::string::npos) return true;
        return false;
    }
};

inline mail::Mailbox mbox(std::string_view addr) {
    const size_t at = addr.rfind('@');
    return mail::Mailbox{std::string(addr.substr(0, at)), std::string(addr.substr(at + 1))};
}

inline ClientTransaction make_txn(std::string_view from, std::vector<std::string> to, std::string body) {
    ClientTransaction t;
    if (!from.empty()) t.envelope.sender = mbox(from);
    for (auto& r : to) {
        mail::Recipient rc;
        rc.mailbox = mbox(r);
        t.envelope.recipients.push_back(rc);
    }
    t.message = std::make_shared<StringSource>(std::move(body));
    return t;
}

// A compact view of a result: "D 250 2.0.0 end of data|F 550 5.1.1 RCPT TO|...".
inline std::string summary(const TransactionResult& r) {
    std::string s;
    for (const auto& x : r.recipients) {
        if (!s.empty()) s += "|";
        s += x.status == RecipientStatus::Delivered ? "D " : x.status == RecipientStatus::Failed ? "F " : "T ";
        s += std::to_string(x.reply.code);
        if (!x.reply.enhanced.empty()) s += " " + x.reply.enhanced;
        s += " " + x.stage;
    }
    return s;
}

}  // namespace petrel::smtp::testing
