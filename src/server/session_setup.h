// server/session_setup.h — what each listener kind means for an SMTP session: the
// smtp::SessionConfig built from the config snapshot (pure, no I/O).
//
//   mx          (RFC 5321, port 25):   STARTTLS offered, no AUTH, relay control by policy/.
//   submission  (RFC 6409, port 587):  STARTTLS offered and required before MAIL; AUTH required
//                                      before MAIL (RFC 6409 §4.3), offered only under TLS
//                                      unless auth.allow_plaintext (RFC 4954 §4).
//   submissions (RFC 8314 §3, port 465): TLS from the first byte, AUTH required.
// Trust: the config is validated already.
#pragma once

#include "config/config.h"
#include "smtp/server_session.h"

namespace petrel::server {

smtp::SessionConfig make_session_config(const config::Config& cfg, config::ListenerKind kind);

smtp::ListenerKind to_smtp_kind(config::ListenerKind kind);

}  // namespace petrel::server
