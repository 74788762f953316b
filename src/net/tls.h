// net/tls.h — the server's TLS context (OpenSSL 3 through Boost.Asio), reloadable on SIGHUP.
//
// Builds one server context from the configured certificate chain and private key, or, when
// none is configured, from a self-signed pair generated on first start under
// <data_dir>/tls/{cert.pem,key.pem} (key mode 0600) and reused afterwards.
// Policy: TLS 1.2 minimum, TLS 1.3 allowed (RFC 8996 deprecates 1.0/1.1; RFC 8314 §4.1), no
// compression (CRIME), no renegotiation, server cipher preference, AEAD-only cipher suites with
// forward secrecy for TLS 1.2. STARTTLS itself is RFC 3207; implicit TLS is RFC 8314 §3.
// Trust: the files are the operator's; they are still checked (key matches certificate).
//
// Lifecycle: construct at start-up (throws std::runtime_error naming the file on any error);
// `current()` returns the context new connections should use; `reload()` re-reads the files and
// swaps the context in (connections already running keep the one they started with, because
// they hold it by shared_ptr). Thread-safety: current() and reload() may be called from any
// thread.
//
// No Asio header is included here: boost::asio::ssl::context is only forward-declared, so app/
// can include this without pulling Asio into its translation unit.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "config/config.h"

namespace boost::asio::ssl {
class context;
}

namespace petrel::net {

struct TlsOptions {
    std::string cert_file;  // PEM certificate chain (leaf first); empty: self-signed
    std::string key_file;   // PEM private key; empty: self-signed
    std::string data_dir;   // where tls/{cert,key}.pem are generated when the two above are empty
    std::string hostname;   // CN and subjectAltName of a generated certificate
};

class TlsContexts {
public:
    explicit TlsContexts(TlsOptions options);
    // cfg.tls.{cert_file,key_file}, cfg.data_dir, cfg.hostname.
    explicit TlsContexts(const config::Config& cfg);
    ~TlsContexts();
    TlsContexts(const TlsContexts&) = delete;
    TlsContexts& operator=(const TlsContexts&) = delete;

    std::shared_ptr<boost::asio::ssl::context> current() const;

    // Re-reads the certificate and key. On failure the old context stays in use, the error is
    // logged and returned in `error` (when given). Never throws.
    bool reload(std::string* error = nullptr);

    // The files actually in use (configured or generated).
    const std::string& cert_file() const { return cert_file_; }
    const std::string& key_file() const { return key_file_; }
    bool self_signed() const { return self_signed_; }

private:
    TlsOptions options_;
    std::string cert_file_;
    std::string key_file_;
    bool self_signed_ = false;
    mutable std::mutex mutex_;
    std::shared_ptr<boost::asio::ssl::context> current_;
};

// Builds a server context with petrel's TLS policy from PEM files. Throws std::runtime_error
// naming the file that failed.
std::shared_ptr<boost::asio::ssl::context> make_server_context(const std::string& cert_file,
                                                               const std::string& key_file);

// A client context for outbound SMTP (delivery/): TLS 1.2 minimum, no compression, no
// renegotiation. With `verify`, the peer's chain is checked against the system CA store (or
// `ca_file` when not empty) and the caller must also set the expected host name on the stream
// (SNI and host name verification); without it nothing is verified (opportunistic TLS, RFC 7435:
// encryption without authentication beats clear text). Throws std::runtime_error at start-up.
std::shared_ptr<boost::asio::ssl::context> make_client_context(bool verify,
                                                               const std::string& ca_file = "");

// Writes a self-signed certificate (EC P-256, SHA-256, ~10 years, CN and subjectAltName =
// hostname) and its key to the two paths; the key file is created with mode 0600. Each file is
// written to a temporary name and renamed into place. Throws std::runtime_error on failure.
void generate_self_signed(const std::string& cert_file, const std::string& key_file,
                          const std::string& hostname);

}  // namespace petrel::net
