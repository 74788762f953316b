// Table-driven tests of every command of smtp::ServerSession: sequencing, syntax, parameters,
// policy requirements (RFC 5321 §4.1, §4.1.4; RFC 1870, 3030, 3461, 4954, 6531).
#include <gtest/gtest.h>

#include <functional>

#include "session_harness.h"

namespace petrel::smtp::testing {
namespace {

enum class Preset { Mx, Submission, SubmissionPlainAuth, Submissions, NoTls };

void apply(Preset p, SessionConfig& c) {
    c.tls_available = true;
    switch (p) {
        case Preset::Mx:
            break;
        case Preset::Submission:
            c.kind = ListenerKind::Submission;
            c.auth_enabled = true;
            c.require_auth = true;
            c.require_tls = true;
            break;
        case Preset::SubmissionPlainAuth:  // AUTH allowed without TLS (configured so)
            c.kind = ListenerKind::Submission;
            c.auth_enabled = true;
            c.auth_requires_tls = false;
            c.require_auth = true;
            break;
        case Preset::Submissions:
            c.kind = ListenerKind::Submissions;
            c.tls_active = true;
            c.auth_enabled = true;
            c.require_auth = true;
            break;
        case Preset::NoTls:
            c.tls_available = false;
            break;
    }
}

struct Case {
    const char* name;
    Preset preset;
    const char* script;
    std::vector<std::string> expected;  // codes of the replies after the greeting
};

const char* const E = "EHLO client.example\r\n";

std::string ehlo(const char* rest) { return std::string(E) + rest; }

std::vector<Case> cases() {
    static std::vector<std::string> storage;
    auto s = [](std::string v) {
        storage.push_back(std::move(v));
        return storage.back().c_str();
    };
    storage.reserve(200);
    return {
        // --- EHLO / HELO
        {"ehlo", Preset::Mx, E, {"250"}},
        {"helo", Preset::Mx, "HELO client.example\r\n", {"250"}},
        {"ehlo_lowercase_verb", Preset::Mx, "ehlo client.example\r\n", {"250"}},
        {"ehlo_no_arg", Preset::Mx, "EHLO\r\n", {"501 5.5.4"}},
        {"helo_no_arg", Preset::Mx, "HELO\r\n", {"501 5.5.4"}},
        {"ehlo_non_ascii", Preset::Mx, "EHLO caf\xc3\xa9\r\n", {"501 5.5.4"}},
        {"ehlo_twice_resets", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\nEHLO again\r\nRCPT TO:<c@d.test>\r\n")),
         {"250", "250 2.1.0", "250", "503 5.5.1"}},
        // --- MAIL
        {"mail_before_ehlo", Preset::Mx, "MAIL FROM:<a@b.test>\r\n", {"503 5.5.1"}},
        {"mail_ok", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\n")), {"250", "250 2.1.0"}},
        {"mail_null", Preset::Mx, s(ehlo("MAIL FROM:<>\r\n")), {"250", "250 2.1.0"}},
        {"mail_space_after_colon", Preset::Mx, s(ehlo("MAIL FROM: <a@b.test>\r\n")), {"250", "250 2.1.0"}},
        {"mail_lowercase", Preset::Mx, s(ehlo("mail from:<a@b.test>\r\n")), {"250", "250 2.1.0"}},
        {"mail_nested", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\nMAIL FROM:<a@b.test>\r\n")),
         {"250", "250 2.1.0", "503 5.5.1"}},
        {"mail_no_brackets", Preset::Mx, s(ehlo("MAIL FROM:a@b.test\r\n")), {"250", "501 5.5.4"}},
        {"mail_no_from", Preset::Mx, s(ehlo("MAIL <a@b.test>\r\n")), {"250", "501 5.5.4"}},
        {"mail_bad_address", Preset::Mx, s(ehlo("MAIL FROM:<a@@b.test>\r\n")), {"250", "501 5.1.7"}},
        {"mail_unclosed", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test\r\n")), {"250", "501 5.1.7"}},
        {"mail_utf8_without_smtputf8", Preset::Mx, s(ehlo("MAIL FROM:<j\xc3\xb6rg@b.test>\r\n")), {"250", "553 5.6.7"}},
        {"mail_utf8_with_smtputf8", Preset::Mx, s(ehlo("MAIL FROM:<j\xc3\xb6rg@b\xc3\xbc.test> SMTPUTF8\r\n")),
         {"250", "250 2.1.0"}},
        {"mail_size_ok", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test> SIZE=1000\r\n")), {"250", "250 2.1.0"}},
        {"mail_size_over", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test> SIZE=99999999999\r\n")), {"250", "552 5.3.4"}},
        {"mail_size_bad", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test> SIZE=12x\r\n")), {"250", "501 5.5.4"}},
        {"mail_size_overflow", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test> SIZE=999999999999999999999999\r\n")),
         {"250", "501 5.5.4"}},
        {"mail_size_novalue", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test> SIZE\r\n")), {"250", "501 5.5.4"}},
        {"mail_body_7bit", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test> BODY=7BIT\r\n")), {"250", "250 2.1.0"}},
        {"mail_body_8bit", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test> BODY=8bitmime\r\n")), {"250", "250 2.1.0"}},
        {"mail_body_binary", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test> BODY=BINARYMIME\r\n")), {"250", "250 2.1.0"}},
        {"mail_body_bad", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test> BODY=9BIT\r\n")), {"250", "501 5.5.4"}},
        {"mail_smtputf8_value", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test> SMTPUTF8=yes\r\n")), {"250", "501 5.5.4"}},
        {"mail_ret_full", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test> RET=FULL ENVID=abc+2Bdef\r\n")), {"250", "250 2.1.0"}},
        {"mail_ret_bad", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test> RET=ALL\r\n")), {"250", "501 5.5.4"}},
        {"mail_envid_bad_xtext", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test> ENVID=ab+zz\r\n")), {"250", "501 5.5.4"}},
        {"mail_auth_param", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test> AUTH=<>\r\n")), {"250", "250 2.1.0"}},
        {"mail_auth_param_xtext", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test> AUTH=a+40b.test\r\n")), {"250", "250 2.1.0"}},
        {"mail_unknown_param", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test> FOO=bar\r\n")), {"250", "555 5.5.4"}},
        {"mail_duplicate_param", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test> SIZE=1 SIZE=2\r\n")), {"250", "501 5.5.4"}},
        {"mail_params_after_helo", Preset::Mx, "HELO x\r\nMAIL FROM:<a@b.test> SIZE=10\r\n", {"250", "555 5.5.4"}},
        {"mail_garbage_after_path", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>junk\r\n")), {"250", "501 5.5.4"}},
        {"mail_source_route", Preset::Mx, s(ehlo("MAIL FROM:<@relay.test:a@b.test>\r\n")), {"250", "250 2.1.0"}},
        // --- RCPT
        {"rcpt_without_mail", Preset::Mx, s(ehlo("RCPT TO:<c@d.test>\r\n")), {"250", "503 5.5.1"}},
        {"rcpt_ok", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n")), {"250", "250 2.1.0", "250 2.1.5"}},
        {"rcpt_null", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\nRCPT TO:<>\r\n")), {"250", "250 2.1.0", "501 5.1.3"}},
        {"rcpt_postmaster", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\nRCPT TO:<Postmaster>\r\n")),
         {"250", "250 2.1.0", "250 2.1.5"}},
        {"rcpt_bad", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\nRCPT TO:<user!host>\r\n")), {"250", "250 2.1.0", "501 5.1.3"}},
        {"rcpt_no_to", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\nRCPT <c@d.test>\r\n")), {"250", "250 2.1.0", "501 5.5.4"}},
        {"rcpt_notify", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;c+40d.test\r\n")),
         {"250", "250 2.1.0", "250 2.1.5"}},
        {"rcpt_notify_never_mixed", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test> NOTIFY=NEVER,DELAY\r\n")),
         {"250", "250 2.1.0", "501 5.5.4"}},
        {"rcpt_notify_bad", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test> NOTIFY=SOMETIMES\r\n")),
         {"250", "250 2.1.0", "501 5.5.4"}},
        {"rcpt_orcpt_bad", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test> ORCPT=rfc822\r\n")),
         {"250", "250 2.1.0", "501 5.5.4"}},
        {"rcpt_unknown_param", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test> SIZE=1\r\n")),
         {"250", "250 2.1.0", "555 5.5.4"}},
        {"rcpt_utf8_needs_smtputf8", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d\xc3\xbc.test>\r\n")),
         {"250", "250 2.1.0", "553 5.6.7"}},
        {"rcpt_utf8_with_smtputf8", Preset::Mx,
         s(ehlo("MAIL FROM:<a@b.test> SMTPUTF8\r\nRCPT TO:<\xc3\xa7@d\xc3\xbc.test>\r\n")), {"250", "250 2.1.0", "250 2.1.5"}},
        // --- DATA (sequence; bodies are tested in session_body_test.cpp)
        {"data_without_mail", Preset::Mx, s(ehlo("DATA\r\n")), {"250", "503 5.5.1"}},
        {"data_without_rcpt", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\nDATA\r\n")), {"250", "250 2.1.0", "554 5.5.1"}},
        {"data_with_arg", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA x\r\n")),
         {"250", "250 2.1.0", "250 2.1.5", "501 5.5.4"}},
        {"data_binarymime", Preset::Mx,
         s(ehlo("MAIL FROM:<a@b.test> BODY=BINARYMIME\r\nRCPT TO:<c@d.test>\r\nDATA\r\n")),
         {"250", "250 2.1.0", "250 2.1.5", "503 5.5.1"}},
        {"data_ok", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nHi\r\n.\r\n")),
         {"250", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0"}},
        // --- BDAT
        {"bdat_without_mail", Preset::Mx, s(ehlo("BDAT 3 LAST\r\nabc")), {"250", "503 5.5.1"}},
        {"bdat_without_rcpt", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\nBDAT 3\r\nabcNOOP\r\n")),
         {"250", "250 2.1.0", "554 5.5.1", "250 2.0.0"}},
        {"bdat_bad_syntax", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT x\r\n")),
         {"250", "250 2.1.0", "250 2.1.5", "501 5.5.4"}},
        {"bdat_bad_last", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 1 FIRST\r\n")),
         {"250", "250 2.1.0", "250 2.1.5", "501 5.5.4"}},
        {"bdat_chunks", Preset::Mx,
         s(ehlo("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 4\r\nHi\r\nBDAT 4 LAST\r\nyo\r\n")),
         {"250", "250 2.1.0", "250 2.1.5", "250 2.0.0", "250 2.0.0"}},
        {"bdat_zero_last", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 4\r\nHi\r\nBDAT 0 LAST\r\n")),
         {"250", "250 2.1.0", "250 2.1.5", "250 2.0.0", "250 2.0.0"}},
        {"bdat_then_data", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nBDAT 4\r\nHi\r\nDATA\r\n")),
         {"250", "250 2.1.0", "250 2.1.5", "250 2.0.0", "503 5.5.1"}},
        // --- RSET, NOOP, QUIT, VRFY, EXPN, HELP, unknown
        {"rset", Preset::Mx, s(ehlo("MAIL FROM:<a@b.test>\r\nRSET\r\nRCPT TO:<c@d.test>\r\n")),
         {"250", "250 2.1.0", "250 2.0.0", "503 5.5.1"}},
        {"rset_arg", Preset::Mx, "RSET x\r\n", {"501 5.5.4"}},
        {"rset_before_ehlo", Preset::Mx, "RSET\r\n", {"250 2.0.0"}},
        {"noop", Preset::Mx, "NOOP\r\nNOOP whatever\r\n", {"250 2.0.0", "250 2.0.0"}},
        {"quit", Preset::Mx, "QUIT\r\nNOOP\r\n", {"221 2.0.0"}},
        {"vrfy", Preset::Mx, "VRFY user\r\n", {"252 2.5.2"}},
        {"vrfy_no_arg", Preset::Mx, "VRFY\r\n", {"501 5.5.4"}},
        {"expn", Preset::Mx, "EXPN list\r\n", {"502 5.5.1"}},
        {"help", Preset::Mx, "HELP\r\n", {"214 2.0.0"}},
        {"unknown", Preset::Mx, "FROB\r\n", {"500 5.5.2"}},
        {"empty_line", Preset::Mx, "\r\n", {"500 5.5.2"}},
        {"turn", Preset::Mx, "TURN\r\n", {"500 5.5.2"}},
        // --- STARTTLS
        {"starttls_not_available", Preset::NoTls, s(ehlo("STARTTLS\r\n")), {"250", "502 5.5.1"}},
        {"starttls_arg", Preset::Mx, s(ehlo("STARTTLS now\r\n")), {"250", "501 5.5.4"}},
        {"starttls_ok", Preset::Mx, s(ehlo("STARTTLS\r\n")), {"250", "220 2.0.0"}},
        {"starttls_under_implicit_tls", Preset::Submissions, s(ehlo("STARTTLS\r\n")), {"250", "503 5.5.1"}},
        // --- AUTH and submission policy
        {"auth_not_enabled", Preset::Mx, s(ehlo("AUTH PLAIN AGEAYg==\r\n")), {"250", "503 5.5.1"}},
        {"auth_needs_tls", Preset::Submission, s(ehlo("AUTH PLAIN AGEAYg==\r\n")), {"250", "530 5.7.0"}},
        {"mail_needs_tls", Preset::Submission, s(ehlo("MAIL FROM:<a@b.test>\r\n")), {"250", "530 5.7.0"}},
        {"mail_needs_auth", Preset::SubmissionPlainAuth, s(ehlo("MAIL FROM:<a@b.test>\r\n")), {"250", "530 5.7.0"}},
        {"auth_plain_ir", Preset::Submissions, s(ehlo("AUTH PLAIN AGEAYg==\r\n")), {"250", "235 2.7.0"}},
        {"auth_plain_ir_lowercase", Preset::Submissions, s(ehlo("auth plain AGEAYg==\r\n")), {"250", "235 2.7.0"}},
        {"auth_plain_challenge", Preset::Submissions, s(ehlo("AUTH PLAIN\r\nAGEAYg==\r\n")), {"250", "334", "235 2.7.0"}},
        {"auth_login", Preset::Submissions, s(ehlo("AUTH LOGIN\r\nYQ==\r\nYg==\r\n")), {"250", "334", "334", "235 2.7.0"}},
        {"auth_login_ir", Preset::Submissions, s(ehlo("AUTH LOGIN YQ==\r\nYg==\r\n")), {"250", "334", "235 2.7.0"}},
        {"auth_cancel", Preset::Submissions, s(ehlo("AUTH PLAIN\r\n*\r\n")), {"250", "334", "501 5.0.0"}},
        {"auth_cancel_login", Preset::Submissions, s(ehlo("AUTH LOGIN\r\nYQ==\r\n*\r\n")), {"250", "334", "334", "501 5.0.0"}},
        {"auth_cancel_ir", Preset::Submissions, s(ehlo("AUTH PLAIN *\r\n")), {"250", "501 5.0.0"}},
        {"auth_bad_base64", Preset::Submissions, s(ehlo("AUTH PLAIN !!!!\r\n")), {"250", "501 5.5.2"}},
        {"auth_bad_base64_cont", Preset::Submissions, s(ehlo("AUTH PLAIN\r\nAGEAY\r\n")), {"250", "334", "501 5.5.2"}},
        {"auth_bad_plain", Preset::Submissions, s(ehlo("AUTH PLAIN YWJj\r\n")), {"250", "501 5.5.2"}},
        {"auth_unknown_mech", Preset::Submissions, s(ehlo("AUTH CRAM-MD5\r\n")), {"250", "504 5.5.4"}},
        {"auth_no_mech", Preset::Submissions, s(ehlo("AUTH\r\n")), {"250", "501 5.5.4"}},
        {"auth_before_ehlo", Preset::Submissions, "AUTH PLAIN AGEAYg==\r\n", {"503 5.5.1"}},
        {"auth_twice", Preset::Submissions, s(ehlo("AUTH PLAIN AGEAYg==\r\nAUTH PLAIN AGEAYg==\r\n")),
         {"250", "235 2.7.0", "503 5.5.1"}},
        {"auth_in_transaction", Preset::SubmissionPlainAuth,
         s(ehlo("AUTH PLAIN AGEAYg==\r\nMAIL FROM:<a@b.test>\r\nAUTH PLAIN AGEAYg==\r\n")),
         {"250", "235 2.7.0", "250 2.1.0", "503 5.5.1"}},
        {"auth_then_mail", Preset::Submissions, s(ehlo("AUTH PLAIN AGEAYg==\r\nMAIL FROM:<a@b.test>\r\n")),
         {"250", "235 2.7.0", "250 2.1.0"}},
        {"auth_without_tls_allowed", Preset::SubmissionPlainAuth, s(ehlo("AUTH LOGIN YQ==\r\nYg==\r\n")),
         {"250", "334", "235 2.7.0"}},
        {"auth_tls_then_auth", Preset::Submission,
         s(ehlo("STARTTLS\r\n")), {"250", "220 2.0.0"}},
    };
}

class CommandTable : public ::testing::TestWithParam<Case> {};

TEST_P(CommandTable, Replies) {
    const Case& c = GetParam();
    Harness h;
    apply(c.preset, h.cfg);
    h.start();
    const std::string wire = h.feed(c.script);
    EXPECT_EQ(codes(wire), c.expected) << wire;
}

INSTANTIATE_TEST_SUITE_P(Session, CommandTable, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

// ---- details that a code table does not show -----------------------------------------

TEST(SessionCommands, GreetingHasNoEnhancedCode) {
    Harness h;
    EXPECT_EQ(h.start(), "220 mx.example.test ESMTP ready\r\n");
}

TEST(SessionCommands, EhloAdvertisesExtensions) {
    Harness h;
    h.cfg.tls_available = true;
    h.cfg.limits.max_message_size = 1234;
    h.start();
    const auto lines = reply_lines(h.feed("EHLO client.example\r\n"));
    const std::vector<std::string> expected = {
        "250-mx.example.test", "250-PIPELINING", "250-SIZE 1234", "250-8BITMIME", "250-SMTPUTF8",
        "250-ENHANCEDSTATUSCODES", "250-CHUNKING", "250-BINARYMIME", "250-DSN", "250 STARTTLS"};
    EXPECT_EQ(lines, expected);
}

TEST(SessionCommands, EhloAuthOnlyWhereAllowed) {
    {
        Harness h;  // submission: AUTH only after TLS
        apply(Preset::Submission, h.cfg);
        h.start();
        std::string w = h.feed("EHLO c\r\n");
        EXPECT_EQ(w.find("AUTH"), std::string::npos);
        EXPECT_NE(w.find("STARTTLS"), std::string::npos);
        w = h.feed("STARTTLS\r\n");
        w = h.feed("EHLO c\r\n");
        EXPECT_NE(w.find("AUTH PLAIN LOGIN\r\n"), std::string::npos) << w;
        EXPECT_EQ(w.find("STARTTLS"), std::string::npos);
    }
    {
        Harness h;
        apply(Preset::SubmissionPlainAuth, h.cfg);
        h.start();
        EXPECT_NE(h.feed("EHLO c\r\n").find("AUTH PLAIN LOGIN"), std::string::npos);
    }
    {
        Harness h;
        apply(Preset::Submissions, h.cfg);
        h.start();
        const std::string w = h.feed("EHLO c\r\n");
        EXPECT_NE(w.find("AUTH PLAIN LOGIN"), std::string::npos);
        EXPECT_EQ(w.find("STARTTLS"), std::string::npos);
    }
    {
        Harness h;  // mx: never AUTH
        h.start();
        EXPECT_EQ(h.feed("EHLO c\r\n").find("AUTH"), std::string::npos);
    }
}

TEST(SessionCommands, HeloReplyAndFacts) {
    Harness h;
    h.start();
    EXPECT_EQ(h.feed("HELO client.example\r\n"), "250 mx.example.test\r\n");
    EXPECT_EQ(h.session->facts().helo, "client.example");
    EXPECT_FALSE(h.session->facts().esmtp);
    h.feed("EHLO other.example\r\n");
    EXPECT_EQ(h.session->facts().helo, "other.example");
    EXPECT_TRUE(h.session->facts().esmtp);
}

TEST(SessionCommands, SubmissionFullFlow) {
    Harness h;
    apply(Preset::Submission, h.cfg);
    h.start();
    h.feed("EHLO c\r\nSTARTTLS\r\n");
    EXPECT_TRUE(h.session->facts().tls);
    EXPECT_EQ(h.session->facts().tls_version, "TLSv1.3");
    // After STARTTLS the client must EHLO again (RFC 3207 §4.2).
    EXPECT_EQ(codes(h.feed("MAIL FROM:<a@b.test>\r\n")), std::vector<std::string>{"503 5.5.1"});
    h.feed("EHLO c\r\n");
    EXPECT_EQ(codes(h.feed("MAIL FROM:<a@b.test>\r\n")), std::vector<std::string>{"530 5.7.0"});
    EXPECT_EQ(codes(h.feed("AUTH PLAIN " "AHVzZXIAc2VjcmV0" "\r\n")), std::vector<std::string>{"235 2.7.0"});
    ASSERT_EQ(h.auths.size(), 1u);
    EXPECT_EQ(h.auths[0].mechanism, "PLAIN");
    EXPECT_EQ(h.auths[0].username, "user");
    EXPECT_EQ(h.auths[0].password, "secret");
    EXPECT_EQ(h.session->facts().auth_user, "user");
    EXPECT_EQ(codes(h.feed("MAIL FROM:<a@b.test> AUTH=user+40b.test\r\nRCPT TO:<x@y.test>\r\nDATA\r\nx\r\n.\r\n")),
              (std::vector<std::string>{"250 2.1.0", "250 2.1.5", "354", "250 2.0.0"}));
    ASSERT_EQ(h.messages.size(), 1u);
    EXPECT_EQ(h.messages[0].envelope.params.auth, "user@b.test");
    EXPECT_EQ(h.messages[0].envelope.facts.auth_user, "user");
    EXPECT_TRUE(h.messages[0].envelope.facts.tls);
}

TEST(SessionCommands, AuthParamIgnoredWhenNotAuthenticated) {
    Harness h;
    h.start();
    h.feed("EHLO c\r\nMAIL FROM:<a@b.test> AUTH=evil+40b.test\r\nRCPT TO:<x@y.test>\r\nDATA\r\nx\r\n.\r\n");
    ASSERT_EQ(h.messages.size(), 1u);
    EXPECT_EQ(h.messages[0].envelope.params.auth, "<>");  // RFC 4954 §5
}

TEST(SessionCommands, AuthLoginRequest) {
    Harness h;
    apply(Preset::Submissions, h.cfg);
    h.start();
    h.feed("EHLO c\r\n");
    EXPECT_EQ(h.feed("AUTH LOGIN\r\n"), "334 VXNlcm5hbWU6\r\n");
    EXPECT_EQ(h.feed("dXNlcg==\r\n"), "334 UGFzc3dvcmQ6\r\n");
    EXPECT_EQ(h.feed("c2VjcmV0\r\n"), "235 2.7.0 Authentication successful\r\n");
    ASSERT_EQ(h.auths.size(), 1u);
    EXPECT_EQ(h.auths[0].mechanism, "LOGIN");
    EXPECT_EQ(h.auths[0].username, "user");
    EXPECT_EQ(h.auths[0].password, "secret");
}

TEST(SessionCommands, AuthVerdicts) {
    struct V {
        AuthVerdict v;
        std::string code;
        bool closes;
    };
    for (const V& v : {V{AuthVerdict::Failed, "535 5.7.8", false}, V{AuthVerdict::TemporaryFail, "454 4.7.0", false},
                       V{AuthVerdict::Throttled, "421 4.7.0", true}}) {
        Harness h;
        apply(Preset::Submissions, h.cfg);
        h.verdicts = {v.v};
        h.start();
        const std::string w = h.feed("EHLO c\r\nAUTH PLAIN AHUAcA==\r\nNOOP\r\n");
        const auto c = codes(w);
        ASSERT_GE(c.size(), 2u);
        EXPECT_EQ(c[1], v.code);
        EXPECT_EQ(h.session->closed(), v.closes);
        EXPECT_EQ(c.size(), v.closes ? 2u : 3u);
        EXPECT_TRUE(h.session->facts().auth_user.empty());
    }
}

TEST(SessionCommands, AuthPayloadNeverLogged) {
    Harness h;
    apply(Preset::Submissions, h.cfg);
    h.start();
    h.feed("EHLO c\r\nAUTH PLAIN AHVzZXIAc2VjcmV0\r\n");
    h.verdicts = {AuthVerdict::Failed};
    for (const auto& e : h.events) {
        EXPECT_EQ(e.detail.find("AHVzZXIAc2VjcmV0"), std::string::npos) << e.detail;
        EXPECT_EQ(e.detail.find("secret"), std::string::npos) << e.detail;
    }
    EXPECT_TRUE(h.has_event("command", "AUTH PLAIN"));
}

TEST(SessionCommands, EnvelopeKeepsParameters) {
    Harness h;
    h.start();
    h.feed("EHLO c\r\nMAIL FROM:<a@B.Test> SIZE=10 BODY=8BITMIME RET=HDRS ENVID=id+2B1\r\n"
           "RCPT TO:<c@d.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;c+40d.test\r\nRCPT TO:<e@f.test> NOTIFY=NEVER\r\n"
           "RCPT TO:<postmaster>\r\nDATA\r\nbody\r\n.\r\n");
    ASSERT_EQ(h.messages.size(), 1u);
    const auto& env = h.messages[0].envelope;
    ASSERT_TRUE(env.sender.has_value());
    EXPECT_EQ(env.sender->str(), "a@b.test");
    EXPECT_EQ(env.params.size, 10u);
    EXPECT_EQ(env.params.body, mail::BodyType::EightBitMime);
    EXPECT_EQ(env.params.ret, mail::DsnRet::Headers);
    EXPECT_EQ(env.params.envid, "id+1");
    ASSERT_EQ(env.recipients.size(), 3u);
    EXPECT_TRUE(env.recipients[0].notify.specified);
    EXPECT_TRUE(env.recipients[0].notify.success);
    EXPECT_TRUE(env.recipients[0].notify.delay);
    EXPECT_FALSE(env.recipients[0].notify.failure);
    EXPECT_EQ(env.recipients[0].orcpt, "rfc822;c@d.test");
    EXPECT_TRUE(env.recipients[1].notify.never);
    EXPECT_FALSE(env.recipients[2].notify.specified);
    EXPECT_EQ(env.recipients[2].mailbox.str(), "postmaster@mx.example.test");
    EXPECT_EQ(h.messages[0].body, "body\r\n");
    EXPECT_EQ(env.facts.client_ip, "192.0.2.7");
    EXPECT_EQ(env.facts.helo, "c");
}

TEST(SessionCommands, NullSenderKept) {
    Harness h;
    h.start();
    h.feed("EHLO c\r\nMAIL FROM:<>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n.\r\n");
    ASSERT_EQ(h.messages.size(), 1u);
    EXPECT_FALSE(h.messages[0].envelope.sender.has_value());
    EXPECT_EQ(h.messages[0].body, "");
}

// A policy that refuses one sender and non-local recipients, to check the calls.
class TestPolicy : public SessionPolicy {
public:
    std::optional<Reply> check_mail(const mail::SessionFacts&, const std::optional<mail::Mailbox>& s) override {
        ++mail_calls;
        if (s && s->domain == "spam.test") return Reply(550, "5.7.1", "Sender refused");
        return std::nullopt;
    }
    std::optional<Reply> check_rcpt(const mail::SessionFacts&, const std::optional<mail::Mailbox>&,
                                    const mail::Mailbox& r) override {
        ++rcpt_calls;
        seen.push_back(r);
        if (r.domain != "example.test") return Reply(550, "5.7.1", "Relay access denied");
        return std::nullopt;
    }
    int mail_calls = 0;
    int rcpt_calls = 0;
    std::vector<mail::Mailbox> seen;
};

TEST(SessionCommands, PolicyIsConsulted) {
    TestPolicy policy;
    Harness h;
    h.policy = &policy;
    h.start();
    EXPECT_EQ(codes(h.feed("EHLO c\r\nMAIL FROM:<x@spam.test>\r\nMAIL FROM:<x@ok.test>\r\n"
                           "RCPT TO:<u@example.test>\r\nRCPT TO:<u@evil.test>\r\n"
                           "RCPT TO:<@example.test:u@evil.test>\r\nRCPT TO:<u%evil.test@example.test>\r\n"
                           "RCPT TO:<\"u@evil.test\"@example.test>\r\nRCPT TO:<u@[192.0.2.1]>\r\n")),
              (std::vector<std::string>{"250", "550 5.7.1", "250 2.1.0", "250 2.1.5", "550 5.7.1", "550 5.7.1",
                                        "250 2.1.5", "250 2.1.5", "550 5.7.1"}));
    EXPECT_EQ(policy.mail_calls, 2);
    EXPECT_EQ(policy.rcpt_calls, 6);
    // The source route was dropped: policy saw the real destination.
    EXPECT_EQ(policy.seen[2].str(), "u@evil.test");
    EXPECT_EQ(policy.seen[3].local, "u%evil.test");
    EXPECT_EQ(policy.seen[4].local, "\"u@evil.test\"");
    EXPECT_EQ(policy.seen[5].domain, "[192.0.2.1]");
}

TEST(SessionCommands, CommitFailureIsRelayed) {
    Harness h;
    h.commit_override = CommitResult{false, "", Reply(452, "4.3.1", "Insufficient system storage")};
    h.start();
    EXPECT_EQ(codes(h.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\n"
                           "RCPT TO:<c@d.test>\r\n")),
              (std::vector<std::string>{"250", "250 2.1.0", "250 2.1.5", "354", "452 4.3.1", "503 5.5.1"}));
}

TEST(SessionCommands, QueuedReplyNamesQueueId) {
    Harness h;
    h.start();
    const std::string w = h.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\n");
    EXPECT_EQ(last_reply(w), "250 2.0.0 Ok: queued as Q1");
}

TEST(SessionCommands, TransactionResetsAfterCommitButHeloKept) {
    Harness h;
    h.start();
    h.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\nx\r\n.\r\n");
    EXPECT_EQ(codes(h.feed("RCPT TO:<c@d.test>\r\nMAIL FROM:<b@b.test>\r\nRCPT TO:<e@d.test>\r\nDATA\r\ny\r\n.\r\n")),
              (std::vector<std::string>{"503 5.5.1", "250 2.1.0", "250 2.1.5", "354", "250 2.0.0"}));
    ASSERT_EQ(h.messages.size(), 2u);
    EXPECT_EQ(h.messages[1].envelope.recipients.size(), 1u);
    EXPECT_EQ(h.messages[1].envelope.sender->local, "b");
}

TEST(SessionCommands, ReadTimeoutFollowsPhase) {
    Harness h;
    h.cfg.limits.command_timeout = std::chrono::milliseconds(111);
    h.cfg.limits.data_timeout = std::chrono::milliseconds(222);
    h.start();
    EXPECT_EQ(h.session->read_timeout().count(), 111);
    h.feed("EHLO c\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\npartial");
    EXPECT_EQ(h.session->read_timeout().count(), 222);
    h.feed("\r\n.\r\nBDAT 10\r\n");
    EXPECT_EQ(h.session->read_timeout().count(), 222);  // reading a chunk (refused, still read)
    h.feed("0123456789");
    EXPECT_EQ(h.session->read_timeout().count(), 111);
}

TEST(SessionCommands, TimeoutCloses) {
    Harness h;
    h.start();
    const std::string w = h.handle(h.session->timeout());
    EXPECT_EQ(codes(w), std::vector<std::string>{"421 4.4.2"});
    EXPECT_TRUE(h.session->closed());
    EXPECT_TRUE(h.closed_seen);
    EXPECT_EQ(h.feed("NOOP\r\n"), "");
}

TEST(SessionCommands, CommandsAreLoggedEscaped) {
    Harness h;
    h.start();
    h.feed("EHLO c\r\nMAIL FROM:<a\x01@b.test>\r\n");
    EXPECT_TRUE(h.has_event("command", "EHLO c"));
    EXPECT_TRUE(h.has_event("protocol", "\\x01"));
    for (const auto& e : h.events)
        for (char c : e.detail) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << e.detail;
}

}  // namespace
}  // namespace petrel::smtp::testing
