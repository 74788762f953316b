// Tests for net/tls: self-signed generation (once, key 0600, SAN), reuse, reload, errors.
#include "net/tls.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <boost/asio/ssl/context.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace petrel::net {
namespace {

namespace fs = std::filesystem;

struct TempDir {
    fs::path path;
    TempDir() {
        char tmpl[] = "/tmp/petrel-tls-test-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

TEST(TlsContexts, GeneratesSelfSignedOnceAndReusesIt) {
    TempDir dir;
    TlsOptions opts{"", "", dir.path.string(), "mx.example.test"};
    std::string first_cert;
    {
        TlsContexts tls(opts);
        EXPECT_TRUE(tls.self_signed());
        ASSERT_TRUE(tls.current());
        first_cert = slurp(tls.cert_file());
        EXPECT_NE(first_cert.find("BEGIN CERTIFICATE"), std::string::npos);
        struct stat st{};
        ASSERT_EQ(::stat(tls.key_file().c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 0777, 0600);
    }
    TlsContexts again(opts);
    EXPECT_EQ(slurp(again.cert_file()), first_cert);

    // CN and subjectAltName carry the hostname.
    FILE* f = ::fopen(again.cert_file().c_str(), "r");
    ASSERT_TRUE(f);
    X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
    ::fclose(f);
    ASSERT_TRUE(cert);
    EXPECT_EQ(X509_check_host(cert, "mx.example.test", 0, 0, nullptr), 1);
    EXPECT_EQ(X509_check_host(cert, "other.example.test", 0, 0, nullptr), 0);
    X509_free(cert);
}

TEST(TlsContexts, ReloadSwapsTheContextAndKeepsItOnError) {
    TempDir dir;
    TlsContexts tls(TlsOptions{"", "", dir.path.string(), "localhost"});
    auto before = tls.current();
    EXPECT_TRUE(tls.reload());
    EXPECT_NE(tls.current(), before);
    auto good = tls.current();
    { std::ofstream(tls.cert_file()) << "garbage"; }
    std::string error;
    EXPECT_FALSE(tls.reload(&error));
    EXPECT_NE(error.find(tls.cert_file()), std::string::npos) << error;
    EXPECT_EQ(tls.current(), good);
}

TEST(TlsContexts, ConfiguredFilesAndErrorsNameTheFile) {
    TempDir dir;
    auto cert = (dir.path / "c.pem").string();
    auto key = (dir.path / "k.pem").string();
    generate_self_signed(cert, key, "127.0.0.1");
    TlsContexts ok(TlsOptions{cert, key, dir.path.string(), "x"});
    EXPECT_FALSE(ok.self_signed());
    EXPECT_EQ(ok.cert_file(), cert);

    try {
        TlsContexts bad(TlsOptions{(dir.path / "missing.pem").string(), key, "", ""});
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("missing.pem"), std::string::npos) << e.what();
    }
    // A key that does not belong to the certificate.
    auto cert2 = (dir.path / "c2.pem").string();
    auto key2 = (dir.path / "k2.pem").string();
    generate_self_signed(cert2, key2, "y");
    try {
        TlsContexts bad(TlsOptions{cert, key2, "", ""});
        FAIL();
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("k2.pem"), std::string::npos) << e.what();
    }
    EXPECT_THROW(TlsContexts(TlsOptions{cert, "", "", ""}), std::runtime_error);
}

TEST(TlsContexts, PolicyIsTls12Minimum) {
    TempDir dir;
    TlsContexts tls(TlsOptions{"", "", dir.path.string(), "localhost"});
    SSL_CTX* h = tls.current()->native_handle();
    EXPECT_EQ(SSL_CTX_get_min_proto_version(h), TLS1_2_VERSION);
    EXPECT_TRUE(SSL_CTX_get_options(h) & SSL_OP_NO_COMPRESSION);
    EXPECT_TRUE(SSL_CTX_get_options(h) & SSL_OP_NO_RENEGOTIATION);
}

}  // namespace
}  // namespace petrel::net
