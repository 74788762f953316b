// smtp/session_auth.cpp — AUTH PLAIN and AUTH LOGIN, with and without an initial response.
//
// RFC 4954 §4 (the exchange; "*" cancels with 501; 334 challenges; a response line may be up
// to Limits::max_auth_line), §6 (503 after a successful AUTH or during a transaction; 504 5.5.4 for an unknown mechanism; 501 5.5.2 for bad
// base64), RFC 3207 §4 (AUTH before STARTTLS where TLS is required: 530 5.7.0 "Must issue a
// STARTTLS command first", the reply Postfix gives and the issue names), RFC 4616 (PLAIN), LOGIN as commonly implemented ("Username:", "Password:").
// The credentials are handed out as an Authenticate action and never logged nor kept here.
#include "smtp/sasl.h"
#include "smtp/session_impl.h"

namespace petrel::smtp {
namespace {

const Reply kBadBase64(501, "5.5.2", "Error: cannot decode AUTH response");
const Reply kCancelled(501, "5.0.0", "Authentication cancelled");

// LOGIN's challenges, base64 of "Username:" and "Password:" (334 carries no enhanced code).
const Reply kAskUser(334, "", "VXNlcm5hbWU6");
const Reply kAskPassword(334, "", "UGFzc3dvcmQ6");

}  // namespace

void ServerSession::Impl::cmd_auth(const Command& cmd) {
    if (!cfg.auth_enabled) return reject(Reply(503, "5.5.1", "Error: authentication not enabled"));
    if (!helo_done) return reject(Reply(503, "5.5.1", "Error: send EHLO first"));
    if (!facts.auth_user.empty()) return reject(Reply(503, "5.5.1", "Error: already authenticated"));
    if (in_transaction) return reject(Reply(503, "5.5.1", "Error: AUTH not allowed during a mail transaction"));
    if (!auth_allowed())
        return reject(Reply(530, "5.7.0", "Must issue a STARTTLS command first"));
    std::string_view arg = cmd.arg;
    const size_t sp = arg.find(' ');
    std::string_view mech = arg.substr(0, sp);
    std::optional<std::string_view> initial;
    if (sp != std::string_view::npos) {
        initial = arg.substr(sp + 1);
        if (initial->empty() || initial->find(' ') != std::string_view::npos)
            return reject(Reply(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]"));
    }
    if (mech.empty()) return reject(Reply(501, "5.5.4", "Syntax: AUTH mechanism [initial-response]"));
    if (equals_ci(mech, "PLAIN")) auth_mech = "PLAIN";
    else if (equals_ci(mech, "LOGIN")) auth_mech = "LOGIN";
    else return reject(Reply(504, "5.5.4", "Error: unsupported authentication mechanism"));

    if (!initial) {
        mode = Mode::AuthWait;
        send(auth_mech == "PLAIN" ? Reply(334, "", "") : kAskUser);
        return;
    }
    if (*initial == "*") {
        auth_mech.clear();
        return reject(kCancelled);
    }
    mode = Mode::AuthWait;
    auth_response(*initial == "=" ? std::string_view() : *initial);  // RFC 4954 §4: "=" is empty
}

void ServerSession::Impl::auth_response(std::string_view line) {
    mode = Mode::Command;
    const std::string mech = std::move(auth_mech);
    auth_mech.clear();
    if (line == "*") {
        auth_login_user.clear();
        return reject(kCancelled);
    }
    auto decoded = base64_decode(line);
    if (!decoded) {
        auth_login_user.clear();
        return reject(kBadBase64);
    }
    AuthRequest req;
    req.mechanism = mech;
    if (mech == "PLAIN") {
        auto plain = parse_plain(*decoded);
        if (!plain) return reject(Reply(501, "5.5.2", "Error: malformed PLAIN response"));
        req.authzid = std::move(plain->authzid);
        req.username = std::move(plain->authcid);
        req.password = std::move(plain->password);
    } else if (auth_login_user.empty()) {
        // LOGIN, first response: the user name; ask for the password.
        if (decoded->empty()) return reject(Reply(501, "5.5.2", "Error: empty user name"));
        auth_login_user = std::move(*decoded);
        auth_mech = mech;
        mode = Mode::AuthWait;
        send(kAskPassword);
        return;
    } else {
        req.username = std::move(auth_login_user);
        auth_login_user.clear();
        req.password = std::move(*decoded);
        if (req.password.empty()) return reject(Reply(501, "5.5.2", "Error: empty password"));
    }
    auth_username = req.username;
    out->auth = std::move(req);
    out->action = Action::Authenticate;
    pending = Pending::Auth;
}

}  // namespace petrel::smtp
