"""Relay control on mx (RFC 5321 §3.9, §7.1; STANDARDS.md "Open relay") and the submission
rules of RFC 6409 §4.3 / RFC 4954 (STARTTLS before AUTH, AUTH before MAIL)."""
import pytest

from petrel_harness import PASSWORD, USER, session

RELAY_TRICKS = [
    "user@other.test",                          # plainly not served
    "user@OTHER.test",
    "user%other.test@example.test",             # percent hack
    "other.test!user@example.test",             # UUCP bang path
    "\"user@other.test\"@example.test",         # quoted local part hiding an address
    "\"user%other.test\"@example.test",
    "@example.test:user@other.test",            # source route (RFC 5321 §4.1.2, Appendix C)
    "@example.test,@partner.test:user@other.test",
    "user@[127.0.0.1]",                         # address literal
    "user@[IPv6:::1]",
    "user@example.test.other.test",             # served name as a prefix
    "user@notexample.test",                     # served name as a suffix
    "user@sub.example.test",                    # subdomain of a served domain
]


@pytest.mark.parametrize("rcpt", RELAY_TRICKS)
def test_mx_refuses_relay_tricks(petrel, rcpt):
    with session(petrel, "mx") as s:
        s.ehlo()
        assert s.cmd("MAIL FROM:<sender@client.test>").code == 250
        r = s.cmd(f"RCPT TO:<{rcpt}>")
        assert r.code in (550, 554) and r.enhanced == "5.7.1", f"RCPT TO:<{rcpt}> -> {r}"
        # And nothing was taken: DATA has no recipient to deliver to.
        d = s.cmd("DATA")
        assert d.code in (503, 554), f"DATA after a refused recipient -> {d}"


@pytest.mark.parametrize("rcpt", ["user@example.test", "USER@Example.TEST", "user@partner.test",
                                  "\"quoted user\"@example.test", "Postmaster"])
def test_mx_accepts_served_domains(petrel, rcpt):
    with session(petrel, "mx") as s:
        s.ehlo()
        assert s.cmd("MAIL FROM:<>").code == 250, "the null reverse-path must be accepted"
        r = s.cmd(f"RCPT TO:<{rcpt}>")
        assert (r.code, r.enhanced) == (250, "2.1.5"), f"RCPT TO:<{rcpt}> -> {r}"


def test_mx_refuses_relay_even_after_starttls(petrel):
    with session(petrel, "mx") as s:
        s.ehlo()
        s.starttls()
        s.cmd("MAIL FROM:<sender@client.test>")
        r = s.cmd("RCPT TO:<user@other.test>")
        assert r.code in (550, 554) and r.enhanced == "5.7.1", str(r)


def test_mx_has_no_auth(petrel):
    with session(petrel, "mx") as s:
        s.ehlo()
        s.starttls()
        r = s.auth_plain(USER, PASSWORD)
        assert r.code in (502, 503, 504), f"AUTH on mx must not be possible: {r}"
        s.cmd("MAIL FROM:<sender@client.test>")
        r = s.cmd("RCPT TO:<user@other.test>")
        assert r.code in (550, 554) and r.enhanced == "5.7.1", str(r)


# AUTH before STARTTLS: 530 5.7.0 (RFC 3207 §4, "Must issue a STARTTLS command first"; the
# issue's wording, and what Postfix answers).
TLS_FIRST = ((530, "5.7.0"),)


def test_submission_auth_before_starttls_is_refused(petrel):
    with session(petrel, "submission") as s:
        s.ehlo()
        r = s.auth_plain(USER, PASSWORD)
        assert (r.code, r.enhanced) in TLS_FIRST, str(r)
        r = s.cmd("AUTH LOGIN")
        assert (r.code, r.enhanced) in TLS_FIRST, str(r)
        # And the refused AUTH did not authenticate: MAIL is still refused.
        r = s.cmd("MAIL FROM:<app@client.test>")
        assert (r.code, r.enhanced) == (530, "5.7.0"), str(r)


def test_submission_mail_before_tls_is_530(petrel):
    with session(petrel, "submission") as s:
        s.ehlo()
        r = s.cmd("MAIL FROM:<app@client.test>")
        assert (r.code, r.enhanced) == (530, "5.7.0"), str(r)


def test_submission_mail_before_auth_is_530(petrel):
    with session(petrel, "submission") as s:
        s.ehlo()
        s.starttls()
        r = s.cmd("MAIL FROM:<app@client.test>")
        assert (r.code, r.enhanced) == (530, "5.7.0"), str(r)
        # Not even to a local domain.
        r = s.cmd("RCPT TO:<user@example.test>")
        assert r.code in (503, 530), str(r)


def test_submissions_mail_before_auth_is_530(petrel):
    with session(petrel, "submissions") as s:
        s.ehlo()
        r = s.cmd("MAIL FROM:<app@client.test>")
        assert (r.code, r.enhanced) == (530, "5.7.0"), str(r)


def test_submission_after_auth_may_relay(petrel):
    with session(petrel, "submission") as s:
        s.ehlo()
        s.starttls()
        r = s.auth_plain(USER, PASSWORD)
        assert (r.code, r.enhanced) == (235, "2.7.0"), str(r)
        assert s.cmd("MAIL FROM:<app@client.test>").code == 250
        r = s.cmd("RCPT TO:<someone@other.test>")
        assert (r.code, r.enhanced) == (250, "2.1.5"), str(r)


def test_auth_login_with_initial_response(petrel):
    import base64
    b64 = lambda x: base64.b64encode(x.encode()).decode()
    with session(petrel, "submissions") as s:
        s.ehlo()
        r = s.cmd(f"AUTH LOGIN {b64(USER)}")
        assert r.code == 334, str(r)
        assert base64.b64decode(r.lines[0]).lower().startswith(b"password"), str(r)
        r = s.cmd(b64(PASSWORD))
        assert (r.code, r.enhanced) == (235, "2.7.0"), str(r)


def test_auth_plain_two_step_and_cancel(petrel):
    import base64
    with session(petrel, "submissions") as s:
        s.ehlo()
        r = s.cmd("AUTH PLAIN")
        assert r.code == 334, str(r)
        r = s.cmd("*")
        assert r.code == 501 and r.enhanced, f"cancelled AUTH must get 501 (RFC 4954 §4): {r}"
        r = s.cmd("AUTH PLAIN")
        assert r.code == 334
        r = s.cmd(base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode())
        assert (r.code, r.enhanced) == (235, "2.7.0"), str(r)
        r = s.auth_plain(USER, PASSWORD)
        assert r.code == 503, f"a second AUTH must be refused: {r}"
