// server/session_setup.cpp — listener kind → smtp::SessionConfig (see session_setup.h).
#include "server/session_setup.h"

namespace petrel::server {

smtp::ListenerKind to_smtp_kind(config::ListenerKind kind) {
    switch (kind) {
        case config::ListenerKind::Mx: return smtp::ListenerKind::Mx;
        case config::ListenerKind::Submission: return smtp::ListenerKind::Submission;
        case config::ListenerKind::Submissions: return smtp::ListenerKind::Submissions;
    }
    return smtp::ListenerKind::Mx;
}

smtp::SessionConfig make_session_config(const config::Config& cfg, config::ListenerKind kind) {
    smtp::SessionConfig sc;
    sc.hostname = cfg.hostname;
    sc.kind = to_smtp_kind(kind);
    sc.limits = cfg.limits;
    sc.tls_available = true;  // net::TlsContexts always has a context (configured or generated)
    switch (kind) {
        case config::ListenerKind::Mx:
            sc.auth_enabled = false;
            sc.require_auth = false;
            sc.require_tls = false;  // RFC 3207 §4: a public MX must not require TLS
            break;
        case config::ListenerKind::Submission:
            sc.auth_enabled = true;
            sc.auth_requires_tls = !cfg.auth.allow_plaintext;
            sc.require_auth = true;
            sc.require_tls = true;
            break;
        case config::ListenerKind::Submissions:
            sc.tls_active = true;
            sc.auth_enabled = true;
            sc.auth_requires_tls = !cfg.auth.allow_plaintext;
            sc.require_auth = true;
            sc.require_tls = true;
            break;
    }
    return sc;
}

}  // namespace petrel::server
