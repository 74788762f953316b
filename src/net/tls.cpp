// net/tls.cpp — server TLS context and the self-signed certificate of the zero-config default.
// See tls.h for the policy and lifecycle. OpenSSL 3 EVP APIs only (no deprecated RSA_/EC_KEY_).
#include "net/tls.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ssl/context.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <system_error>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <spdlog/spdlog.h>

namespace petrel::net {
namespace {

namespace ssl = boost::asio::ssl;
namespace fs = std::filesystem;

// TLS 1.2 suites: ECDHE/DHE key exchange (forward secrecy) with AEAD ciphers only, the
// "intermediate" profile that every maintained MTA and MUA speaks. TLS 1.3 suites are
// OpenSSL's defaults (all AEAD).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

constexpr long kValiditySeconds = 10L * 365 * 24 * 3600;

std::string openssl_error() {
    unsigned long e = ERR_get_error();
    if (e == 0) return "unknown OpenSSL error";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

[[noreturn]] void fail(const std::string& what) {
    throw std::runtime_error(what + ": " + openssl_error());
}

struct BioFree {
    void operator()(BIO* b) const { BIO_free(b); }
};
struct PkeyFree {
    void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
    void operator()(X509* x) const { X509_free(x); }
};
struct ExtFree {
    void operator()(X509_EXTENSION* e) const { X509_EXTENSION_free(e); }
};
struct BnFree {
    void operator()(BIGNUM* b) const { BN_free(b); }
};

std::string bio_contents(BIO* bio) {
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    return std::string(data, len > 0 ? static_cast<size_t>(len) : 0);
}

// Writes `data` to `path` through a temporary file created with `mode`, fsynced, then renamed
// over `path`, so a crash never leaves a half-written key or certificate.
void write_file_atomically(const std::string& path, const std::string& data, mode_t mode) {
    std::string tmp = path + ".tmp";
    ::unlink(tmp.c_str());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        throw std::system_error(errno, std::generic_category(), "cannot create " + tmp);
    }
    size_t off = 0;
    while (off < data.size()) {
        ssize_t n = ::write(fd, data.data() + off, data.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            int err = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            throw std::system_error(err, std::generic_category(), "cannot write " + tmp);
        }
        off += static_cast<size_t>(n);
    }
    if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0) {
        int err = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        throw std::system_error(err, std::generic_category(), "cannot sync " + tmp);
    }
    ::close(fd);
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int err = errno;
        ::unlink(tmp.c_str());
        throw std::system_error(err, std::generic_category(), "cannot rename to " + path);
    }
}

bool looks_like_ip(const std::string& host) {
    unsigned char buf[16];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

void add_extension(X509* cert, int nid, const std::string& value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
    std::unique_ptr<X509_EXTENSION, ExtFree> ext(
        X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
        fail("cannot add certificate extension " + value);
    }
}

}  // namespace

void generate_self_signed(const std::string& cert_file, const std::string& key_file,
                          const std::string& hostname) {
    std::unique_ptr<EVP_PKEY, PkeyFree> key(EVP_EC_gen("P-256"));
    if (!key) fail("cannot generate an EC P-256 key");

    std::unique_ptr<X509, X509Free> cert(X509_new());
    if (!cert || X509_set_version(cert.get(), 2) != 1) fail("cannot create a certificate");

    // A random 127-bit serial (RFC 5280 §4.1.2.2: positive, at most 20 octets).
    std::unique_ptr<BIGNUM, BnFree> serial(BN_new());
    if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
        !BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get()))) {
        fail("cannot set the certificate serial number");
    }
    if (!X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(cert.get()), kValiditySeconds)) {
        fail("cannot set the certificate validity");
    }
    X509_NAME* name = X509_get_subject_name(cert.get());
    // RFC 5280 upper bound for CN is 64 characters; a longer hostname lives in the SAN only.
    std::string cn = hostname.size() <= 64 ? hostname : std::string("petrel");
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                   reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                   0) != 1 ||
        X509_set_issuer_name(cert.get(), name) != 1 ||
        X509_set_pubkey(cert.get(), key.get()) != 1) {
        fail("cannot set the certificate name");
    }
    add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), NID_key_usage, "critical,digitalSignature");
    add_extension(cert.get(), NID_ext_key_usage, "serverAuth");
    add_extension(cert.get(), NID_subject_key_identifier, "hash");
    add_extension(cert.get(), NID_subject_alt_name,
                  (looks_like_ip(hostname) ? "IP:" : "DNS:") + hostname);
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) fail("cannot sign the certificate");

    std::unique_ptr<BIO, BioFree> key_bio(BIO_new(BIO_s_mem()));
    std::unique_ptr<BIO, BioFree> cert_bio(BIO_new(BIO_s_mem()));
    if (!key_bio || !cert_bio ||
        PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                 nullptr) != 1 ||
        PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1) {
        fail("cannot encode the certificate");
    }
    std::string key_pem = bio_contents(key_bio.get());
    write_file_atomically(key_file, key_pem, 0600);
    OPENSSL_cleanse(key_pem.data(), key_pem.size());
    write_file_atomically(cert_file, bio_contents(cert_bio.get()), 0644);
}

std::shared_ptr<ssl::context> make_server_context(const std::string& cert_file,
                                                  const std::string& key_file) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    SSL_CTX* h = ctx->native_handle();
    if (SSL_CTX_set_min_proto_version(h, TLS1_2_VERSION) != 1) fail("cannot set TLS 1.2 minimum");
    SSL_CTX_set_options(h, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE);
    // Idle connections give their read/write buffers back to the allocator (memory per idle
    // TLS connection; see server/README.md).
    SSL_CTX_set_mode(h, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_cipher_list(h, kTls12Ciphers) != 1) fail("cannot set the TLS 1.2 ciphers");
    SSL_CTX_set_dh_auto(h, 1);
    static const unsigned char sid_ctx[] = "petrel";
    SSL_CTX_set_session_id_context(h, sid_ctx, sizeof sid_ctx - 1);

    boost::system::error_code ec;
    ctx->use_certificate_chain_file(cert_file, ec);
    if (ec) {
        ERR_clear_error();
        throw std::runtime_error("TLS certificate " + cert_file + ": " + ec.message());
    }
    ctx->use_private_key_file(key_file, ssl::context::pem, ec);
    if (ec) {
        ERR_clear_error();
        throw std::runtime_error("TLS private key " + key_file + ": " + ec.message());
    }
    if (SSL_CTX_check_private_key(h) != 1) {
        throw std::runtime_error("TLS private key " + key_file + " does not match certificate " +
                                 cert_file + ": " + openssl_error());
    }
    return ctx;
}

std::shared_ptr<ssl::context> make_client_context(bool verify, const std::string& ca_file) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
    SSL_CTX* h = ctx->native_handle();
    if (SSL_CTX_set_min_proto_version(h, TLS1_2_VERSION) != 1) fail("cannot set TLS 1.2 minimum");
    SSL_CTX_set_options(h, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(h, SSL_MODE_RELEASE_BUFFERS);
    if (!verify) {
        ctx->set_verify_mode(ssl::verify_none);
        return ctx;
    }
    boost::system::error_code ec;
    if (ca_file.empty()) ctx->set_default_verify_paths(ec);
    else ctx->load_verify_file(ca_file, ec);
    if (ec) {
        ERR_clear_error();
        throw std::runtime_error("TLS CA store " + (ca_file.empty() ? "(system)" : ca_file) + ": " +
                                 ec.message());
    }
    ctx->set_verify_mode(ssl::verify_peer);
    return ctx;
}

TlsContexts::TlsContexts(const config::Config& cfg)
    : TlsContexts(TlsOptions{cfg.tls.cert_file, cfg.tls.key_file, cfg.data_dir, cfg.hostname}) {}

TlsContexts::TlsContexts(TlsOptions options) : options_(std::move(options)) {
    if (options_.cert_file.empty() != options_.key_file.empty()) {
        throw std::runtime_error("TLS: a certificate and a key must be configured together");
    }
    if (!options_.cert_file.empty()) {
        cert_file_ = options_.cert_file;
        key_file_ = options_.key_file;
    } else {
        self_signed_ = true;
        fs::path dir = fs::path(options_.data_dir.empty() ? "." : options_.data_dir) / "tls";
        cert_file_ = (dir / "cert.pem").string();
        key_file_ = (dir / "key.pem").string();
        std::error_code ec;
        bool have_cert = fs::exists(cert_file_, ec);
        bool have_key = fs::exists(key_file_, ec);
        if (!have_cert || !have_key) {
            fs::create_directories(dir, ec);
            if (ec) {
                throw std::runtime_error("TLS: cannot create directory " + dir.string() + ": " +
                                         ec.message());
            }
            ::chmod(dir.c_str(), 0700);
            generate_self_signed(cert_file_, key_file_,
                                 options_.hostname.empty() ? "localhost" : options_.hostname);
            spdlog::info("tls generated self-signed certificate {} for {}", cert_file_,
                         options_.hostname);
        }
    }
    current_ = make_server_context(cert_file_, key_file_);
}

TlsContexts::~TlsContexts() = default;

std::shared_ptr<ssl::context> TlsContexts::current() const {
    std::lock_guard lock(mutex_);
    return current_;
}

bool TlsContexts::reload(std::string* error) {
    try {
        auto fresh = make_server_context(cert_file_, key_file_);
        std::lock_guard lock(mutex_);
        current_ = std::move(fresh);
    } catch (const std::exception& e) {
        spdlog::error("tls reload failed, keeping the previous certificate: {}", e.what());
        if (error) *error = e.what();
        return false;
    }
    spdlog::info("tls reloaded certificate {}", cert_file_);
    return true;
}

}  // namespace petrel::net
