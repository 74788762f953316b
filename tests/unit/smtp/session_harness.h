// tests/unit/smtp/session_harness.h — drives a ServerSession like server/ would, resolving
// every action at once, and records the transcript (replies plus [ACTION] markers).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/server_session.h"

namespace petrel::smtp::testing {

struct Harness {
    SessionConfig cfg;
    AcceptAllPolicy accept_all;
    SessionPolicy* policy = &accept_all;
    mail::SessionFacts facts;
    std::unique_ptr<ServerSession> session;
    std::vector<AcceptedMessage> messages;
    std::vector<AuthRequest> auths;
    std::vector<SessionEvent> events;
    std::vector<AuthVerdict> verdicts;  // used in turn; Ok when exhausted
    size_t verdict_index = 0;
    std::optional<CommitResult> commit_override;
    bool resolve = true;  // resolve actions at once
    std::string transcript;
    int commits = 0;

    Harness() {
        cfg.hostname = "mx.example.test";
        facts.client_ip = "192.0.2.7";
        facts.session_id = "sess";
    }

    // Creates the session and returns the greeting.
    std::string start() {
        session = std::make_unique<ServerSession>(cfg, *policy, facts);
        return handle(session->start());
    }

    // Feeds bytes; returns every reply produced (including those of resolved actions).
    std::string feed(std::string_view bytes) { return handle(session->feed(bytes)); }

    std::string handle(Output o) {
        std::string wire = o.wire;
        transcript += o.wire;
        for (auto& e : o.events) events.push_back(e);
        if (!resolve) {
            last_action = o.action;
            if (o.message) messages.push_back(*o.message);
            if (o.auth) auths.push_back(*o.auth);
            return wire;
        }
        switch (o.action) {
            case Action::None:
                break;
            case Action::StartTls:
                transcript += "[STARTTLS]";
                wire += handle(session->tls_established(TlsInfo{"TLSv1.3", "TLS_AES_256_GCM_SHA384"}));
                break;
            case Action::Authenticate: {
                auths.push_back(*o.auth);
                AuthVerdict v = verdict_index < verdicts.size() ? verdicts[verdict_index++] : AuthVerdict::Ok;
                transcript += "[AUTH]";
                wire += handle(session->auth_result(v));
                break;
            }
            case Action::Commit: {
                messages.push_back(*o.message);
                transcript += "[COMMIT]";
                CommitResult r;
                if (commit_override) {
                    r = *commit_override;
                } else {
                    r.ok = true;
                    r.queue_id = "Q" + std::to_string(++commits);
                }
                wire += handle(session->commit_result(r));
                break;
            }
            case Action::Close:
                transcript += "[CLOSE]";
                closed_seen = true;
                break;
        }
        return wire;
    }

    bool has_event(std::string_view kind, std::string_view needle) const {
        for (const auto& e : events)
            if (e.kind == kind && e.detail.find(needle) != std::string::npos) return true;
        return false;
    }

    Action last_action = Action::None;
    bool closed_seen = false;
};

// The reply lines of `wire`, without CRLF.
inline std::vector<std::string> reply_lines(std::string_view wire) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < wire.size()) {
        size_t e = wire.find("\r\n", pos);
        if (e == std::string_view::npos) {
            out.emplace_back(wire.substr(pos));
            break;
        }
        out.emplace_back(wire.substr(pos, e - pos));
        pos = e + 2;
    }
    return out;
}

// The final line of the last reply in `wire` ("" when none).
inline std::string last_reply(std::string_view wire) {
    auto l = reply_lines(wire);
    return l.empty() ? std::string() : l.back();
}

// "250 2.1.0" style prefixes of every final reply line, in order.
inline std::vector<std::string> codes(std::string_view wire) {
    std::vector<std::string> out;
    for (std::string l : reply_lines(wire)) {
        while (!l.empty() && l[0] == '[' && l.find(']') != std::string::npos) l.erase(0, l.find(']') + 1);
        if (l.size() >= 4 && l[3] == ' ') {
            const size_t sp = l.find(' ', 4);
            std::string enh = l.substr(4, sp == std::string::npos ? std::string::npos : sp - 4);
            if (!enh.empty() && enh[0] >= '2' && enh[0] <= '5' && enh.size() >= 5 && enh[1] == '.')
                out.push_back(l.substr(0, 3) + " " + enh);
            else
                out.push_back(l.substr(0, 3));
        }
    }
    return out;
}

}  // namespace petrel::smtp::testing
