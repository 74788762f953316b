"""The SMTP conversation over raw sockets: EHLO keywords, reply codes for bad input, PIPELINING
(RFC 2920), CHUNKING/BDAT (RFC 3030), enhanced status codes (RFC 2034), IPv6 listeners."""
import re
import socket
import uuid

import pytest

from petrel_harness import (PASSWORD, QUEUED_RE, USER, session, simple_message)

REQUIRED_KEYWORDS = {"PIPELINING", "SIZE", "8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES",
                     "CHUNKING", "DSN"}


def _auth_mechs(ehlo):
    line = ehlo.keyword_line("AUTH")
    return set(line.upper().split()[1:]) if line else set()


def test_ehlo_on_mx_advertises_required_keywords_and_starttls_not_auth(petrel):
    with session(petrel, "mx") as s:
        r = s.ehlo()
        missing = REQUIRED_KEYWORDS - r.keywords()
        assert not missing, f"EHLO lacks {missing}:\n{r}"
        size = r.keyword_line("SIZE").split()
        assert len(size) == 2 and size[1].isdigit() and int(size[1]) > 0, f"SIZE line {size}"
        assert "STARTTLS" in r.keywords()
        assert "AUTH" not in r.keywords(), "mx must not offer AUTH"
        s.starttls(ehlo_after=False)
        r2 = s.ehlo()
        assert "STARTTLS" not in r2.keywords(), "STARTTLS offered again under TLS"
        assert "AUTH" not in r2.keywords(), "mx must not offer AUTH, even under TLS"
        assert not (REQUIRED_KEYWORDS - r2.keywords())


def test_ehlo_on_submission_offers_auth_only_after_starttls(petrel):
    with session(petrel, "submission") as s:
        r = s.ehlo()
        assert "STARTTLS" in r.keywords()
        assert "AUTH" not in r.keywords(), f"AUTH offered before TLS:\n{r}"
        r2 = s.starttls()
        assert "STARTTLS" not in r2.keywords()
        assert {"PLAIN", "LOGIN"} <= _auth_mechs(r2), f"AUTH line: {r2.keyword_line('AUTH')}"
        assert not (REQUIRED_KEYWORDS - r2.keywords())


def test_ehlo_on_submissions_offers_auth_not_starttls(petrel):
    with session(petrel, "submissions") as s:
        r = s.ehlo()
        assert "STARTTLS" not in r.keywords()
        assert {"PLAIN", "LOGIN"} <= _auth_mechs(r)


def test_starttls_under_tls_is_refused(petrel):
    with session(petrel, "submissions") as s:
        s.ehlo()
        r = s.cmd("STARTTLS")
        assert r.code == 503 and r.enhanced == "5.5.1", str(r)


def test_unknown_command_is_500_5_5_2(petrel):
    with session(petrel) as s:
        s.ehlo()
        r = s.cmd("FROBNICATE now")
        assert (r.code, r.enhanced) == (500, "5.5.2"), str(r)


@pytest.mark.parametrize("line", ["MAIL FROM:<unterminated@client.test",
                                  "MAIL FROM:sender@client.test",
                                  "MAIL TO:<sender@client.test>",
                                  "MAIL FROM:<a@@client.test>"])
def test_bad_mail_syntax_is_501_5_5_4(petrel, line):
    with session(petrel) as s:
        s.ehlo()
        r = s.cmd(line)
        assert r.code == 501, str(r)
        # RFC 3463: 5.5.4 (invalid command arguments), or 5.5.2 / 5.1.7 / 5.1.3 (bad address).
        assert r.enhanced in ("5.5.4", "5.5.2", "5.1.7", "5.1.3"), str(r)


def test_bad_rcpt_syntax_is_501(petrel):
    with session(petrel) as s:
        s.ehlo()
        assert s.cmd("MAIL FROM:<a@client.test>").code == 250
        r = s.cmd("RCPT TO:<no-domain-and-no-close")
        assert r.code == 501, str(r)


def test_unknown_mail_parameter_is_555_5_5_4(petrel):
    with session(petrel) as s:
        s.ehlo()
        r = s.cmd("MAIL FROM:<a@client.test> FROBNICATE=yes")
        assert (r.code, r.enhanced) == (555, "5.5.4"), str(r)
        # The known ones are accepted.
        r = s.cmd("MAIL FROM:<a@client.test> SIZE=100 BODY=8BITMIME RET=HDRS ENVID=x123")
        assert r.code == 250, str(r)
        r = s.cmd("RCPT TO:<u@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;u@example.test")
        assert r.code == 250, str(r)


@pytest.mark.parametrize("line", ["MAIL FROM:<a@client.test> SIZE=abc",
                                  "MAIL FROM:<a@client.test> BODY=9BIT",
                                  "MAIL FROM:<a@client.test> RET=ALL",
                                  "MAIL FROM:<a@client.test> SIZE=1 SIZE=2"])
def test_bad_mail_parameter_values_are_501(petrel, line):
    with session(petrel) as s:
        s.ehlo()
        r = s.cmd(line)
        assert r.code in (501, 555) and r.enhanced == "5.5.4", f"{line}: {r}"


def test_bad_notify_value_is_501(petrel):
    with session(petrel) as s:
        s.ehlo()
        assert s.cmd("MAIL FROM:<a@client.test>").code == 250
        for bad in ("NOTIFY=SOMETIMES", "NOTIFY=NEVER,SUCCESS"):
            r = s.cmd(f"RCPT TO:<u@example.test> {bad}")
            assert r.code in (501, 555) and r.enhanced == "5.5.4", f"{bad}: {r}"


def test_binarymime_needs_bdat(petrel):
    """RFC 3030 §3: a BINARYMIME body can only be sent with BDAT."""
    with session(petrel) as s:
        s.ehlo()
        assert s.cmd("MAIL FROM:<a@client.test> BODY=BINARYMIME").code == 250
        assert s.cmd("RCPT TO:<u@example.test>").code == 250
        r = s.cmd("DATA")
        assert r.code in (503, 554) and r.enhanced and r.enhanced.startswith("5."), str(r)


@pytest.mark.parametrize("seq", [["RCPT TO:<u@example.test>"],
                                 ["DATA"],
                                 ["MAIL FROM:<a@client.test>", "MAIL FROM:<b@client.test>"],
                                 ["BDAT 0 LAST"]])
def test_out_of_sequence_is_503_5_5_1(petrel, seq):
    with session(petrel) as s:
        s.ehlo()
        for line in seq[:-1]:
            assert s.cmd(line).code == 250
        r = s.cmd(seq[-1])
        assert (r.code, r.enhanced) == (503, "5.5.1"), f"{seq[-1]}: {r}"


def test_mail_before_ehlo_is_503(petrel):
    with session(petrel) as s:
        r = s.cmd("MAIL FROM:<a@client.test>")
        assert r.code == 503, str(r)


def test_helo_works_without_esmtp(petrel):
    marker = uuid.uuid4().hex
    with session(petrel) as s:
        r = s.cmd("HELO old.client.test")
        assert r.code == 250, str(r)
        assert len(r.lines) == 1, f"HELO must not list extensions: {r}"
        r = s.send_message("a@client.test", ["u@example.test"], simple_message(marker))
        assert QUEUED_RE.match(str(r)), str(r)
        r = s.cmd("MAIL FROM:<a@client.test> SIZE=100")
        assert r.code in (501, 555), f"ESMTP parameters after HELO: {r}"


def test_smtputf8_and_idna(petrel):
    """RFC 6531: a UTF-8 path needs SMTPUTF8 (553 5.6.7 without); domains are compared in
    their IDNA A-label form, so a U-label recipient reaches a domain configured either way."""
    marker = uuid.uuid4().hex
    with session(petrel) as s:
        assert "SMTPUTF8" in s.ehlo().keywords()
        r = s.cmd("MAIL FROM:<δοκιμή@client.test>".encode())
        assert r.code == 553 and r.enhanced == "5.6.7", f"UTF-8 path without SMTPUTF8: {r}"
        r = s.cmd("MAIL FROM:<δοκιμή@client.test> SMTPUTF8".encode())
        assert r.code == 250, str(r)
        r = s.cmd("RCPT TO:<jürgen@bücher.test>".encode())
        assert (r.code, r.enhanced) == (250, "2.1.5"), f"U-label of a served domain: {r}"
        r = s.cmd("RCPT TO:<ascii@xn--bcher-kva.test>")
        assert (r.code, r.enhanced) == (250, "2.1.5"), f"A-label of a served domain: {r}"
        r = s.cmd("RCPT TO:<jürgen@bücher-other.test>".encode())
        assert r.code in (550, 554) and r.enhanced == "5.7.1", f"unserved U-label domain: {r}"
        assert s.cmd("DATA").code == 354
        s.send("Subject: ünïcödé\r\n\r\n".encode() + marker.encode() + b"\r\n.\r\n")
        assert QUEUED_RE.match(str(s.reply()))
    stored = petrel.wait_for_stored_message(marker.encode())
    assert "ünïcödé".encode() in stored, "the UTF-8 header must be kept as sent"


@pytest.mark.parametrize("rcpt,ok", [("a" * 64 + "@example.test", True),
                                     ("a" * 65 + "@example.test", False),
                                     ("u@" + ".".join(["d" * 63] * 4) + ".example.test", False),
                                     ("u@" + "d" * 64 + ".example.test", False)])
def test_path_length_limits(petrel, rcpt, ok):
    """RFC 5321 §4.5.3.1: local part ≤ 64 octets, domain ≤ 255, label ≤ 63 (RFC 1035)."""
    with session(petrel) as s:
        s.ehlo()
        s.cmd("MAIL FROM:<a@client.test>")
        r = s.cmd(f"RCPT TO:<{rcpt}>")
        if ok:
            assert r.code == 250, str(r)
        else:
            # A syntax refusal, not a relay denial (that would pass for the wrong reason).
            assert r.code in (501, 553) and r.enhanced and r.enhanced[:4] in ("5.1.", "5.5."), \
                f"over-long path part accepted or refused for the wrong reason: {r}"


def test_every_reply_after_ehlo_has_an_enhanced_code(petrel):
    with session(petrel) as s:
        s.ehlo()
        cmds = ["NOOP", "RSET", "VRFY user", "HELP", "XYZZY", "RCPT TO:<x@example.test>",
                "MAIL FROM:<a@client.test>", "RCPT TO:<u@example.test>",
                "RCPT TO:<u@other.test>", "RSET", "QUIT"]
        for c in cmds:
            r = s.cmd(c)
            for line in r.lines:
                assert re.match(r"^[245]\.\d{1,3}\.\d{1,3}( |$)", line), \
                    f"{c!r} -> {r.code} {line!r}: no enhanced status code"
            if c.startswith("VRFY"):
                assert r.code == 252, str(r)
            if c == "QUIT":
                assert r.code == 221
        s.expect_closed()


def test_pipelined_group_replies_in_order(petrel):
    """RFC 2920: one packet with MAIL, several RCPT (one refused) and DATA; the replies come
    back in order; then body + final dot + QUIT in one packet."""
    marker = uuid.uuid4().hex
    with session(petrel) as s:
        assert "PIPELINING" in s.ehlo().keywords()
        s.send(b"MAIL FROM:<sender@client.test>\r\n"
               b"RCPT TO:<one@example.test>\r\n"
               b"RCPT TO:<nobody@other.test>\r\n"
               b"RCPT TO:<two@partner.test>\r\n"
               b"DATA\r\n")
        rs = s.replies(5)
        got = [(r.code, r.enhanced) for r in rs]
        assert got[0] == (250, "2.1.0"), str(rs[0])
        assert got[1] == (250, "2.1.5"), str(rs[1])
        assert rs[2].code in (550, 554) and rs[2].enhanced == "5.7.1", str(rs[2])
        assert got[3] == (250, "2.1.5"), str(rs[3])
        assert rs[4].code == 354, str(rs[4])
        s.send(simple_message(marker) + b".\r\nQUIT\r\n")
        done, bye = s.replies(2)
        assert QUEUED_RE.match(str(done)), str(done)
        assert bye.code == 221, str(bye)
        s.expect_closed()
    petrel.wait_for_stored(marker.encode())


def test_dot_stuffing_is_undone(petrel):
    marker = uuid.uuid4().hex
    with session(petrel) as s:
        s.ehlo()
        body = simple_message(marker) + b"..leading dot line\r\n"
        r = s.send_message("a@client.test", ["u@example.test"], body)
        assert QUEUED_RE.match(str(r)), str(r)
    stored = petrel.wait_for_stored_message(marker.encode())
    assert b"\r\n.leading dot line\r\n" in stored or b"\n.leading dot line\n" in stored
    assert b"..leading dot line" not in stored


def test_bdat_chunks_are_accepted(petrel):
    marker = uuid.uuid4().hex
    with session(petrel) as s:
        assert "CHUNKING" in s.ehlo().keywords()
        assert s.cmd("MAIL FROM:<a@client.test> BODY=BINARYMIME").code == 250
        assert s.cmd("RCPT TO:<u@example.test>").code == 250
        msg = simple_message(marker)
        part1, part2 = msg[:20], msg[20:]
        s.send(b"BDAT %d\r\n" % len(part1) + part1)
        r1 = s.reply()
        assert r1.code == 250 and r1.enhanced == "2.0.0", str(r1)
        s.send(b"BDAT %d\r\n" % len(part2) + part2)
        assert s.reply().code == 250
        r = s.cmd("BDAT 0 LAST")
        assert QUEUED_RE.match(str(r)), str(r)
    stored = petrel.wait_for_stored_message(marker.encode())
    assert msg.replace(b"\r\n", b"\n") in stored.replace(b"\r\n", b"\n")


def test_bdat_last_in_one_chunk_pipelined(petrel):
    marker = uuid.uuid4().hex
    with session(petrel) as s:
        s.ehlo()
        msg = simple_message(marker)
        s.send(b"MAIL FROM:<a@client.test>\r\nRCPT TO:<u@example.test>\r\n"
               + b"BDAT %d LAST\r\n" % len(msg) + msg)
        rs = s.replies(3)
        assert [r.code for r in rs[:2]] == [250, 250], [str(r) for r in rs]
        assert QUEUED_RE.match(str(rs[2])), str(rs[2])
    petrel.wait_for_stored(marker.encode())


def test_data_after_bdat_in_one_transaction_is_503(petrel):
    with session(petrel) as s:
        s.ehlo()
        s.cmd("MAIL FROM:<a@client.test>")
        s.cmd("RCPT TO:<u@example.test>")
        s.send(b"BDAT 5\r\nhello")
        assert s.reply().code == 250
        r = s.cmd("DATA")
        assert (r.code, r.enhanced) == (503, "5.5.1"), str(r)


def test_rset_clears_the_transaction(petrel):
    with session(petrel) as s:
        s.ehlo()
        s.cmd("MAIL FROM:<a@client.test>")
        s.cmd("RCPT TO:<u@example.test>")
        assert s.cmd("RSET").code == 250
        r = s.cmd("DATA")
        assert r.code == 503, str(r)


def test_received_header_is_prepended(petrel):
    marker = uuid.uuid4().hex
    with session(petrel, "submission") as s:
        s.ehlo("helo.client.test")
        s.starttls(ehlo_after=False)
        s.ehlo("helo.client.test")
        assert s.auth_plain(USER, PASSWORD).code == 235
        r = s.send_message("a@client.test", ["u@example.test"], simple_message(marker))
        m = QUEUED_RE.match(str(r))
        assert m, str(r)
        qid = m.group(1)
    stored = petrel.wait_for_stored_message(marker.encode()).replace(b"\r\n", b"\n")
    idx = stored.find(b"Received:")
    assert idx >= 0, "no Received header in the stored message"
    assert idx < stored.find(b"From: sender@client.test"), "Received must come first (prepended)"
    # Unfold the header and check the fields RFC 5321 §4.4 / RFC 8314 §4.3 call for.
    end = stored.find(b"\n", idx)
    while stored[end + 1:end + 2] in (b" ", b"\t"):
        end = stored.find(b"\n", end + 1)
    received = re.sub(rb"\s+", b" ", stored[idx:end]).decode()
    assert "helo.client.test" in received, received
    assert "127.0.0.1" in received, received
    assert "mx.example.test" in received, received
    assert "ESMTPSA" in received, f"TLS+AUTH submission should say ESMTPSA: {received}"
    assert "TLS" in received, f"TLS details missing (RFC 8314 §4.3): {received}"
    assert qid in received, f"queue ID missing: {received}"
    assert re.search(r";\s*\w{3}, \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}", received), received


@pytest.mark.petrel_listeners([("mx", "::1"), ("submissions", "::1")])
def test_ipv6_listeners(petrel):
    if not socket.has_ipv6:
        pytest.fail("no IPv6 support in this Python")
    marker = uuid.uuid4().hex
    with session(petrel, "mx", host="::1") as s:
        s.ehlo()
        r = s.send_message("a@client.test", ["u@example.test"], simple_message(marker))
        assert QUEUED_RE.match(str(r)), str(r)
    stored = petrel.wait_for_stored_message(marker.encode())
    assert b"::1" in stored, "the Received header should name the IPv6 client address"
    with session(petrel, "submissions", host="::1") as s:
        s.ehlo()
        assert s.auth_plain(USER, PASSWORD).code == 235
