// tests/tools/dsn_sample.cpp — test-only: prints a sample delivery status notification built by
// mail::build_dsn, for tests/integration/test_dsn_parse.py to parse with Python's `email`.
//
// Usage: dsn_sample hdrs   RET=HDRS, two failed recipients (one with ORCPT), ENVID set
//        dsn_sample full   RET=FULL, one failed recipient, the whole message returned
//        dsn_sample delay  no RET, one delayed recipient (a delay warning)
// Trust: arguments come from the test; fixed dates and IDs so the output is reproducible.
#include <cstdio>
#include <string>

#include "mail/dsn.h"

using namespace petrel::mail;

int main(int argc, char** argv) {
    const std::string mode = argc > 1 ? argv[1] : "hdrs";
    Envelope env;
    env.sender = Mailbox{"alice", "sender.test"};
    env.params.envid = "ENV-42";
    env.params.ret = mode == "full" ? DsnRet::Full : mode == "hdrs" ? DsnRet::Headers : DsnRet::Unspecified;
    Recipient bob;
    bob.mailbox = Mailbox{"bob", "remote.test"};
    bob.orcpt = "rfc822;Bob@Remote.test";
    Recipient carol;
    carol.mailbox = Mailbox{"carol", "remote.test"};
    env.recipients = {bob, carol};

    DsnInput in;
    in.envelope = &env;
    const std::string original =
        "From: Alice <alice@sender.test>\r\nTo: bob@remote.test, carol@remote.test\r\nSubject: quarterly report\r\n"
        "Message-ID: <orig-1@sender.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\nThe body of the message.\r\n";
    in.original = original;
    in.reporting_mta = "mx.petrel.test";
    in.arrival = 1795600000;
    in.now = 1795603600;
    in.message_id = "<dsn-" + mode + "@mx.petrel.test>";

    auto rcpt = [&](const Recipient& r, DsnAction a, const char* status, const char* diag) {
        DsnRecipient d;
        d.recipient = r;
        d.action = a;
        d.status = status;
        d.remote_mta = "mx.remote.test";
        d.diagnostic = diag;
        d.last_attempt = 1795603500;
        if (a == DsnAction::Delayed) d.will_retry_until = 1796032000;
        return d;
    };
    if (mode == "hdrs") {
        in.recipients = {rcpt(bob, DsnAction::Failed, "5.1.1", "550 5.1.1 <bob@remote.test>: user unknown"),
                         rcpt(carol, DsnAction::Failed, "5.2.2", "552 5.2.2 mailbox full")};
    } else if (mode == "full") {
        in.recipients = {rcpt(bob, DsnAction::Failed, "5.7.1", "554 5.7.1 message refused")};
    } else if (mode == "delay") {
        in.recipients = {rcpt(carol, DsnAction::Delayed, "4.4.1", "451 4.4.1 try again later")};
    } else {
        std::fprintf(stderr, "usage: dsn_sample hdrs|full|delay\n");
        return 2;
    }
    const auto dsn = build_dsn(in);
    if (!dsn) return 1;
    std::fwrite(dsn->message.data(), 1, dsn->message.size(), stdout);
    return 0;
}
