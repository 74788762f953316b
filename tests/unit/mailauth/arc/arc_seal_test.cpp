// tests/unit/mailauth/arc/arc_seal_test.cpp — ARC sealing (RFC 8617 §5.1): the ValiMail
// signing suite (17 tests, ../shared/conformance/arc/valimail/arc-draft-sign-tests.yml): for
// each, the chain is validated with arc::verify, sealed with the suite's key, and the AMS and
// AS signatures compared byte for byte with those the suite's reference sealer (dkimpy)
// produced (RSA PKCS#1 v1.5 is deterministic, so equal b= means equal signed bytes); the
// sealed message must then verify. The suite's AAR text is given to the sealer (how results
// are consolidated is the caller's business, README of the suite). Plus round trips with
// Ed25519 and RSA keys over several hops, and the refusals.
#include <gtest/gtest.h>

#include <openssl/bio.h>
#include <openssl/pem.h>

#include <boost/json.hpp>

#include <iostream>
#include <map>

#include "mailauth/arc/sealer.h"
#include "mailauth/dkim/key_store.h"
#include "unit/mailauth/arc/arc_suite.inc"

namespace petrel::mailauth::arc {
namespace {

dkim::PKey pem_key(const std::string& pem) {
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    dkim::PKey key = dkim::wrap(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
    BIO_free(bio);
    return key;
}

dkim::KeyFetcher fetcher(std::map<std::string, std::string> txt) {
    return [txt](const std::string& name) {
        auto it = txt.find(name);
        if (it == txt.end()) return dkim::KeyLookup{dns::Status::NxDomain, {}};
        return dkim::KeyLookup{dns::Status::Ok, {it->second}};
    };
}

// The b= value of a field text (tags "x=...; b=...; ..."), without folding whitespace.
std::string b_of(std::string_view value) {
    auto tags = parse_tag_list(value);
    if (!tags) return "<unparsable>";
    const Tag* b = find_tag(*tags, "b");
    return b ? strip_fws(b->value) : "<none>";
}

std::vector<std::string> split_names(const std::string& list) {
    std::vector<std::string> out;
    size_t start = 0;
    while (true) {
        size_t colon = list.find(':', start);
        out.push_back(list.substr(start, colon - start));
        if (colon == std::string::npos) return out;
        start = colon + 1;
    }
}

TEST(ArcSeal, SigningSuiteReproducesReferenceSignatures) {
    boost::json::value suite = boost::json::parse(k_arc_suite_json);
    int total = 0, reproduced = 0, refused_fail = 0;
    for (const auto& t : suite.at("sign").as_array()) {
        const auto& test = t.as_object();
        std::string name(test.at("name").as_string());
        std::string message(test.at("message").as_string());
        std::map<std::string, std::string> txt;
        for (const auto& [k, v] : test.at("txt").as_object()) txt[std::string(k)] = std::string(v.as_string());
        ++total;

        ChainReport chain = verify(message, fetcher(txt), VerifyOptions{});
        dkim::SigningKey key{std::string(test.at("domain").as_string()), std::string(test.at("selector").as_string()),
                             dkim::KeyType::Rsa, pem_key(std::string(test.at("privatekey").as_string())), ""};
        ASSERT_TRUE(key.key) << name;
        SealRequest req;
        std::string aar(test.at("AAR").as_string());
        if (!aar.empty()) req.results = aar.substr(aar.find(';') + 2);  // after "i=N; "
        req.headers = split_names(std::string(test.at("headers").as_string()));
        req.cv = chain.result;
        req.now = static_cast<uint64_t>(test.at("t").as_int64());
        SealOutcome out = seal(message, key, req);
        if (chain.result == ChainResult::Fail) {
            // no_additional_sig expects no new set on a chain whose newest seal says cv=fail;
            // i1_base_fail and i2_base_fail seal a chain that fails validation with cv=fail.
            // petrel extends neither (sealer.h).
            EXPECT_FALSE(out.ok()) << name;
            EXPECT_EQ(test.at("AS").as_string().empty(), name == "no_additional_sig") << name;
            ++refused_fail;
            continue;
        }
        ASSERT_TRUE(out.ok()) << name << ": " << out.error;
        std::string error;
        const std::string sealed_fields = out.fields + "\r\n";  // the views below point into it
        auto fields = parse_message(sealed_fields, error);
        ASSERT_TRUE(fields && fields->fields.size() == 3) << name;
        bool ams_same = b_of(fields->fields[1].value) == b_of(test.at("AMS").as_string());
        bool as_same = b_of(fields->fields[0].value) == b_of(test.at("AS").as_string());
        EXPECT_TRUE(ams_same) << name << ": AMS b= differs from the reference";
        if (ams_same && as_same) ++reproduced;
        EXPECT_TRUE(as_same) << name << ": AS b= differs from the reference";

        ChainReport sealed = verify(out.fields + message, fetcher(txt), VerifyOptions{});
        EXPECT_EQ(sealed.result, ChainResult::Pass) << name << ": " << sealed.detail;
        EXPECT_EQ(sealed.instances, out.instance) << name;
    }
    std::cout << "ARC signing suite: " << reproduced << "/" << total << " reproduced (AMS and AS b= equal); "
              << refused_fail << " refused (cv=fail chains are not extended)\n";
    EXPECT_EQ(total, 17);
    EXPECT_EQ(reproduced, 14);
    EXPECT_EQ(refused_fail, 3);
}

TEST(ArcSeal, MultiHopRoundTripWithRsaAndEd25519) {
    dkim::SigningKey rsa{"list.example", "hop", dkim::KeyType::Rsa, dkim::generate_key(dkim::KeyType::Rsa, 2048), ""};
    dkim::SigningKey ed{"fwd.example", "ed", dkim::KeyType::Ed25519, dkim::generate_key(dkim::KeyType::Ed25519), ""};
    ASSERT_TRUE(rsa.key && ed.key);
    std::map<std::string, std::string> txt = {{"hop._domainkey.list.example", dkim::public_key_record(rsa.key.get())},
                                              {"ed._domainkey.fwd.example", dkim::public_key_record(ed.key.get())}};
    std::string message = "From: a@origin.example\r\nTo: b@dest.example\r\nSubject: hi\r\n\r\nHello\r\n";
    for (int hop = 1; hop <= 4; ++hop) {
        ChainReport before = verify(message, fetcher(txt), VerifyOptions{});
        ASSERT_NE(before.result, ChainResult::Fail) << "hop " << hop << ": " << before.detail;
        SealRequest req;
        req.results = "mx" + std::to_string(hop) + ".example; arc=" + to_string(before.result) + ";\r\n\tspf=pass";
        req.headers = {"from", "to", "subject"};
        req.cv = before.result;
        req.now = 1700000000 + static_cast<uint64_t>(hop);
        SealOutcome out = seal(message, hop % 2 ? rsa : ed, req);
        ASSERT_TRUE(out.ok()) << out.error;
        EXPECT_EQ(out.instance, hop);
        message = out.fields + "Received: by hop" + std::to_string(hop) + "\r\n" + message;
        ChainReport after = verify(message, fetcher(txt), VerifyOptions{});
        EXPECT_EQ(after.result, ChainResult::Pass) << "hop " << hop << ": " << after.detail;
        EXPECT_EQ(after.instances, hop);
        EXPECT_EQ(after.oldest_pass, 0);
    }
    // A later change to a signed header breaks every AMS but the seals: the newest AMS fails.
    std::string changed = message;
    changed.replace(changed.find("Subject: hi"), 11, "Subject: HI");
    EXPECT_EQ(verify(changed, fetcher(txt), VerifyOptions{}).result, ChainResult::Fail);
}

TEST(ArcSeal, Refusals) {
    dkim::SigningKey ed{"fwd.example", "ed", dkim::KeyType::Ed25519, dkim::generate_key(dkim::KeyType::Ed25519), ""};
    std::string plain = "From: a@b.example\r\n\r\nx\r\n";
    SealRequest req;
    req.results = "mx.example; spf=pass";
    req.headers = {"from"};
    req.cv = ChainResult::Pass;
    EXPECT_EQ(seal(plain, ed, req).error, "cv=pass without an ARC chain");
    req.cv = ChainResult::Fail;
    EXPECT_FALSE(seal(plain, ed, req).ok());
    req.cv = ChainResult::None;
    req.max_instances = 0;
    EXPECT_FALSE(seal(plain, ed, req).ok());
    req.max_instances = 50;
    req.results = "mx.example;\r\nspf=pass";  // a line that is not a fold
    EXPECT_EQ(seal(plain, ed, req).error, "bad results text");
    std::string broken = "ARC-Seal: i=2; cv=pass\r\n" + plain;
    req.results = "mx.example; spf=pass";
    EXPECT_NE(seal(broken, ed, req).error.find("broken"), std::string::npos);
}

}  // namespace
}  // namespace petrel::mailauth::arc
