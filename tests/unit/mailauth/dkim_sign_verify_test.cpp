// tests/unit/mailauth/dkim_sign_verify_test.cpp — RFC 8463 Appendix A vectors (verify, and
// reproduce the signatures with the RFC's keys), sign → verify round trips for RSA and Ed25519
// in every canonicalization, and the tampering cases: changed body, changed signed header, an
// added From (caught by oversigning), revoked key, expired signature, rsa-sha1, short key.
#include <gtest/gtest.h>

#include <openssl/evp.h>

#include "dkim_test_util.h"
#include "mailauth/dkim/hash_input.h"
#include "mailauth/dkim/key_store.h"
#include "mailauth/dkim/signer.h"
#include "mailauth/dkim/verifier.h"

namespace petrel::mailauth::dkim {
namespace {

using testing::conformance_dir;
using testing::FakeDns;
using testing::load_chasquid_dns;
using testing::read_file;

constexpr uint64_t kRfcTime = 1528637909;

class Rfc8463 : public ::testing::Test {
protected:
    void SetUp() override {
        if (!std::filesystem::exists(conformance_dir() / "rfc")) GTEST_SKIP() << "no conformance data";
        signed_ = to_crlf(read_file(conformance_dir() / "rfc/rfc8463-signed.eml"));
        unsigned_ = to_crlf(read_file(conformance_dir() / "rfc/rfc8463-unsigned.eml"));
        dns_ = load_chasquid_dns(read_file(conformance_dir() / "rfc/rfc8463.dns"));
    }
    std::string signed_, unsigned_;
    FakeDns dns_;
};

TEST_F(Rfc8463, BothSignaturesVerify) {
    VerifyOptions o;
    o.now = kRfcTime;
    auto r = verify(signed_, dns_.fetcher(), o);
    ASSERT_TRUE(r.message_ok) << r.error;
    ASSERT_EQ(r.results.size(), 2u);
    for (const auto& s : r.results) {
        EXPECT_EQ(s.result, Result::Pass) << s.algorithm << ": " << to_string(s.reason) << " " << s.detail;
        EXPECT_EQ(s.domain, "football.example.com");
    }
    EXPECT_EQ(r.results[0].algorithm, "ed25519-sha256");
    EXPECT_EQ(r.results[1].algorithm, "rsa-sha256");
}

// The RFC's signature fields with b= emptied are the templates; Ed25519 and RSA PKCS#1 v1.5 are
// deterministic, so the same key must produce the same b= bytes.
TEST_F(Rfc8463, SigningReproducesTheRfcSignatures) {
    std::string err;
    auto msg = parse_message(unsigned_, err);
    auto sig_msg = parse_message(signed_, err);
    ASSERT_TRUE(msg && sig_msg) << err;
    std::string seed = *base64_decode(read_file(conformance_dir() / "rfc/rfc8463-ed25519-private.seed.b64"));
    PKey ed = wrap(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                                reinterpret_cast<const unsigned char*>(seed.data()), seed.size()));
    std::string pem_err;
    auto tmp = std::filesystem::temp_directory_path() / "petrel-dkim-rfc8463.pem";
    std::filesystem::copy_file(conformance_dir() / "rfc/rfc8463-rsa-private.pem", tmp,
                               std::filesystem::copy_options::overwrite_existing);
    PKey rsa = load_private_key(tmp.string(), pem_err);
    std::filesystem::remove(tmp);
    ASSERT_TRUE(ed && rsa) << pem_err;
    for (size_t i = 0; i < 2; ++i) {
        auto parsed = parse_signature(sig_msg->fields[i], err);
        ASSERT_TRUE(parsed) << err;
        EVP_PKEY* key = parsed->algorithm == Algorithm::Ed25519Sha256 ? ed.get() : rsa.get();
        std::string tmpl = parsed->raw_without_b;
        tmpl.resize(tmpl.size() - 2);  // without the final CRLF, as it will be hashed
        auto b = sign_prepared(*msg, tmpl, parsed->headers, parsed->header_canon, parsed->algorithm, key);
        ASSERT_TRUE(b);
        EXPECT_EQ(base64_encode(*b), parsed->b_text) << to_string(parsed->algorithm);
    }
}

struct Keys {
    PKey rsa = generate_key(KeyType::Rsa, 2048);
    PKey ed = generate_key(KeyType::Ed25519);
    FakeDns dns;
    std::vector<SigningKey> signing;
    Keys() {
        dns.add("r1._domainkey.example.test", public_key_record(rsa.get()));
        dns.add("e1._domainkey.example.test", public_key_record(ed.get()));
        signing.push_back({"example.test", "r1", KeyType::Rsa, rsa, ""});
        signing.push_back({"example.test", "e1", KeyType::Ed25519, ed, ""});
    }
};

Keys& keys() {
    static Keys k;
    return k;
}

const std::string kMessage =
    "From: Alice <alice@example.test>\r\n"
    "To: bob@example.net\r\n"
    "Subject: Lunch  \r\n\ttomorrow?\r\n"
    "Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n"
    "Message-ID: <1@example.test>\r\n"
    "\r\n"
    "Hi  Bob,\r\n\r\nnoon?   \r\n\r\n\r\n";

constexpr uint64_t kNow = 1790000000;

VerifyReport sign_and_verify(const std::string& message, SignOptions options, std::string* header_out = nullptr,
                             uint64_t verify_at = kNow) {
    auto out = sign_message(message, keys().signing, options, kNow);
    EXPECT_TRUE(out.ok()) << out.error;
    if (header_out) *header_out = out.header;
    VerifyOptions vo;
    vo.now = verify_at;
    return verify(out.header + message, keys().dns.fetcher(), vo);
}

void expect_all(const VerifyReport& r, Result result, Reason reason) {
    ASSERT_TRUE(r.message_ok) << r.error;
    ASSERT_EQ(r.results.size(), 2u);
    for (const auto& s : r.results) {
        EXPECT_EQ(s.result, result) << s.algorithm << " " << s.detail;
        EXPECT_EQ(s.reason, reason) << s.algorithm << " " << s.detail;
    }
}

TEST(DkimSignVerify, RoundTripEveryCanonicalization) {
    for (Canon h : {Canon::Simple, Canon::Relaxed}) {
        for (Canon b : {Canon::Simple, Canon::Relaxed}) {
            SignOptions o = default_sign_options();
            o.header_canon = h;
            o.body_canon = b;
            std::string header;
            expect_all(sign_and_verify(kMessage, o, &header), Result::Pass, Reason::None);
            // Folded at 78 columns, CRLF-terminated.
            size_t start = 0;
            while (start < header.size()) {
                size_t end = header.find("\r\n", start);
                ASSERT_NE(end, std::string::npos);
                EXPECT_LE(end - start, 78u) << header.substr(start, end - start);
                start = end + 2;
            }
        }
    }
}

TEST(DkimSignVerify, DefaultsAndOversigning) {
    std::string header;
    sign_and_verify(kMessage, default_sign_options(), &header);
    EXPECT_NE(header.find("c=relaxed/relaxed"), std::string::npos);
    EXPECT_NE(header.find("t=1790000000;"), std::string::npos);
    EXPECT_EQ(header.find("x="), std::string::npos);
    std::string flat = strip_fws(header);
    // From is present once and oversigned: listed twice; Cc is absent: listed once.
    EXPECT_NE(flat.find("h=from:from:"), std::string::npos) << flat;
    EXPECT_NE(flat.find(":cc:"), std::string::npos) << flat;
}

TEST(DkimSignVerify, NoFromIsRefused) {
    auto out = sign_message("To: x@y.z\r\n\r\nbody\r\n", keys().signing, default_sign_options(), kNow);
    EXPECT_FALSE(out.ok());
}

TEST(DkimSignVerify, EmptyBodyAndNoBody) {
    expect_all(sign_and_verify("From: a@example.test\r\n\r\n", default_sign_options()), Result::Pass, Reason::None);
    expect_all(sign_and_verify("From: a@example.test\r\n", default_sign_options()), Result::Pass, Reason::None);
}

std::string tamper(const std::string& header, std::string message, const std::string& from, const std::string& to) {
    size_t p = message.find(from);
    EXPECT_NE(p, std::string::npos);
    message.replace(p, from.size(), to);
    return header + message;
}

VerifyReport verify_now(const std::string& m) {
    VerifyOptions vo;
    vo.now = kNow;
    return verify(m, keys().dns.fetcher(), vo);
}

TEST(DkimTamper, ChangedBody) {
    std::string h;
    sign_and_verify(kMessage, default_sign_options(), &h);
    expect_all(verify_now(tamper(h, kMessage, "noon?", "one?")), Result::Fail, Reason::BodyHashMismatch);
}

TEST(DkimTamper, RelaxedToleratesWhitespaceSimpleDoesNot) {
    std::string h;
    sign_and_verify(kMessage, default_sign_options(), &h);
    expect_all(verify_now(tamper(h, kMessage, "Hi  Bob", "Hi Bob")), Result::Pass, Reason::None);
    SignOptions simple = default_sign_options();
    simple.header_canon = simple.body_canon = Canon::Simple;
    sign_and_verify(kMessage, simple, &h);
    expect_all(verify_now(tamper(h, kMessage, "Hi  Bob", "Hi Bob")), Result::Fail, Reason::BodyHashMismatch);
}

TEST(DkimTamper, ChangedSignedHeader) {
    std::string h;
    sign_and_verify(kMessage, default_sign_options(), &h);
    expect_all(verify_now(tamper(h, kMessage, "Subject: Lunch", "Subject: Dinner")), Result::Fail,
               Reason::SignatureMismatch);
}

TEST(DkimTamper, AddedFromFailsThanksToOversigning) {
    std::string h;
    sign_and_verify(kMessage, default_sign_options(), &h);
    // Prepended and appended: both must break the signature.
    expect_all(verify_now(h + "From: Mallory <m@evil.test>\r\n" + kMessage), Result::Fail, Reason::SignatureMismatch);
    expect_all(verify_now(tamper(h, kMessage, "\r\n\r\n", "\r\nFrom: m@evil.test\r\n\r\n")), Result::Fail,
               Reason::SignatureMismatch);
    // Without oversigning an added From at the top would change what a reader sees and pass.
    SignOptions plain = default_sign_options();
    plain.oversign.clear();
    sign_and_verify(kMessage, plain, &h);
    expect_all(verify_now(h + "From: m@evil.test\r\n" + kMessage), Result::Pass, Reason::None);
}

TEST(DkimTamper, UnsignedHeaderMayBeAdded) {
    std::string h;
    sign_and_verify(kMessage, default_sign_options(), &h);
    expect_all(verify_now(h + "Received: from relay\r\n" + kMessage), Result::Pass, Reason::None);
}

TEST(DkimTamper, RevokedKey) {
    std::string h;
    sign_and_verify(kMessage, default_sign_options(), &h);
    FakeDns revoked;
    revoked.add("r1._domainkey.example.test", "v=DKIM1; k=rsa; p=");
    revoked.add("e1._domainkey.example.test", "v=DKIM1; k=ed25519; p=");
    VerifyOptions vo;
    vo.now = kNow;
    expect_all(verify(h + kMessage, revoked.fetcher(), vo), Result::PermError, Reason::KeyRevoked);
}

TEST(DkimTamper, ExpiredSignature) {
    SignOptions o = default_sign_options();
    o.expiration = std::chrono::seconds(3600);
    expect_all(sign_and_verify(kMessage, o, nullptr, kNow + 3599), Result::Pass, Reason::None);
    expect_all(sign_and_verify(kMessage, o, nullptr, kNow + 3601), Result::PermError, Reason::Expired);
}

TEST(DkimTamper, KeyNotFoundAndTempError) {
    std::string h;
    sign_and_verify(kMessage, default_sign_options(), &h);
    FakeDns none;
    VerifyOptions vo;
    vo.now = kNow;
    expect_all(verify(h + kMessage, none.fetcher(), vo), Result::PermError, Reason::KeyNotFound);
    FakeDns down;
    down.fail("r1._domainkey.example.test", dns::Status::Timeout);
    down.fail("e1._domainkey.example.test", dns::Status::ServFail);
    expect_all(verify(h + kMessage, down.fetcher(), vo), Result::TempError, Reason::KeyTempError);
}

TEST(DkimTamper, WrongKeyTypeAndWrongKey) {
    std::string h;
    sign_and_verify(kMessage, default_sign_options(), &h);
    FakeDns swapped;
    swapped.add("r1._domainkey.example.test", public_key_record(keys().ed.get()));
    swapped.add("e1._domainkey.example.test", public_key_record(keys().rsa.get()));
    VerifyOptions vo;
    vo.now = kNow;
    expect_all(verify(h + kMessage, swapped.fetcher(), vo), Result::PermError, Reason::KeyMismatch);
    FakeDns other;
    other.add("r1._domainkey.example.test", public_key_record(generate_key(KeyType::Rsa, 1024).get()));
    other.add("e1._domainkey.example.test", public_key_record(generate_key(KeyType::Ed25519).get()));
    expect_all(verify(h + kMessage, other.fetcher(), vo), Result::Fail, Reason::SignatureMismatch);
}

TEST(DkimVerify, BodyLengthIsNotedAndBounded) {
    std::string h;
    sign_and_verify(kMessage, default_sign_options(), &h);
    // A hand-made l= signature: the RFC 8463 style with an l= covering "Hi Bob,\r\n" only.
    std::string err;
    auto msg = parse_message(kMessage, err);
    std::string bh = base64_encode(body_hash(msg->body, Canon::Relaxed, 9));
    std::string field = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.test;\r\n"
                        " s=e1; l=9; h=from:subject; bh=" + bh + ";\r\n b=";
    auto b = sign_prepared(*msg, field, {"from", "subject"}, Canon::Relaxed, Algorithm::Ed25519Sha256,
                           keys().ed.get());
    ASSERT_TRUE(b);
    std::string signed_msg = field + base64_encode(*b) + "\r\n" + kMessage;
    auto r = verify_now(signed_msg + "");
    ASSERT_EQ(r.results.size(), 1u);
    EXPECT_EQ(r.results[0].result, Result::Pass) << r.results[0].detail;
    EXPECT_EQ(*r.results[0].body_length, 9u);
    EXPECT_TRUE(r.results[0].body_truncated);
    // Appending to the body keeps it passing (that is what l= allows), still flagged.
    auto r2 = verify_now(signed_msg + "appended\r\n");
    EXPECT_EQ(r2.results[0].result, Result::Pass);
    EXPECT_TRUE(r2.results[0].body_truncated);
}

TEST(DkimVerify, Rfc8301Refusals) {
    std::string err;
    auto msg = parse_message(kMessage, err);
    std::string bh = base64_encode(body_hash(msg->body, Canon::Relaxed, std::nullopt));
    std::string sha1 = "DKIM-Signature: v=1; a=rsa-sha1; c=relaxed/relaxed; d=example.test; s=r1;"
                       " h=from; bh=" + bh + "; b=QUJD\r\n";
    auto r = verify_now(sha1 + kMessage);
    ASSERT_EQ(r.results.size(), 1u);
    EXPECT_EQ(r.results[0].reason, Reason::AlgorithmNotAllowed);
    // A 512-bit key record is refused.
    PKey small = wrap(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{512}));
    std::string kerr;
    EXPECT_FALSE(parse_key_record(public_key_record(small.get()), kerr));
    EXPECT_EQ(kerr, "key too short");
    EXPECT_FALSE(generate_key(KeyType::Rsa, 512));
}

TEST(DkimVerify, AtMostFiveSignaturesChecked) {
    std::string h;
    std::string all;
    for (int i = 0; i < 4; ++i) {
        sign_and_verify(kMessage, default_sign_options(), &h);
        all += h;
    }
    auto r = verify_now(all + kMessage);
    ASSERT_EQ(r.results.size(), 8u);
    for (size_t i = 0; i < 8; ++i) {
        EXPECT_EQ(r.results[i].result, i < 5 ? Result::Pass : Result::Neutral);
    }
    EXPECT_EQ(r.results[7].reason, Reason::NotChecked);
}

}  // namespace
}  // namespace petrel::mailauth::dkim
