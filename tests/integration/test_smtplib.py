"""Python smtplib against the three listeners: plain mx, STARTTLS+AUTH on submission, implicit
TLS+AUTH on submissions (RFC 5321, RFC 3207, RFC 4954, RFC 6409, RFC 8314)."""
import smtplib
import uuid

from petrel_harness import (PASSWORD, USER, QUEUE_ID_RE, client_tls_context, simple_message)


def _queued_id(code, resp):
    text = resp.decode()
    assert code == 250, f"end of data: {code} {text}"
    assert text.startswith("2.0.0 Ok: queued as "), text
    qid = text.rsplit(" ", 1)[1]
    assert QUEUE_ID_RE.fullmatch(qid), f"queue ID {qid!r} is not 14 Crockford base32 characters"
    return qid


def test_plain_send_on_mx_is_queued_and_stored(petrel):
    marker = uuid.uuid4().hex
    with smtplib.SMTP("127.0.0.1", petrel.port("mx"), local_hostname="client.test",
                      timeout=10) as s:
        code, _ = s.ehlo()
        assert code == 250
        assert s.mail("sender@client.test")[0] == 250
        assert s.rcpt("user@example.test")[0] == 250
        code, resp = s.data(simple_message(marker))
        qid = _queued_id(code, resp)
    # The 250 is a promise: the message is already in the spool on disk, a record under its ID
    # (read from the segment log right after the reply, without waiting).
    assert marker.encode() in petrel.stored_message(qid)


def test_two_messages_get_distinct_queue_ids(petrel):
    ids = set()
    with smtplib.SMTP("127.0.0.1", petrel.port("mx"), timeout=10) as s:
        s.ehlo("client.test")
        for _ in range(3):
            s.mail("sender@client.test")
            s.rcpt("user@example.test")
            ids.add(_queued_id(*s.data(simple_message(uuid.uuid4().hex))))
    assert len(ids) == 3


def test_starttls_login_send_on_submission(petrel):
    marker = uuid.uuid4().hex
    with smtplib.SMTP("127.0.0.1", petrel.port("submission"), timeout=15) as s:
        s.ehlo("client.test")
        assert s.has_extn("starttls")
        assert not s.has_extn("auth"), "AUTH must not be offered before TLS on submission"
        code, _ = s.starttls(context=client_tls_context())
        assert code == 220
        s.ehlo("client.test")
        assert not s.has_extn("starttls"), "STARTTLS offered again under TLS"
        assert "PLAIN" in s.esmtp_features.get("auth", "").upper().split()
        code, resp = s.login(USER, PASSWORD)
        assert code == 235 and resp.startswith(b"2.7.0"), (code, resp)
        s.mail("app@client.test")
        assert s.rcpt("someone@other.test")[0] == 250, "authenticated submission may relay"
        _queued_id(*s.data(simple_message(marker)))
    petrel.wait_for_stored(marker.encode())


def test_implicit_tls_login_send_on_submissions(petrel):
    marker = uuid.uuid4().hex
    with smtplib.SMTP_SSL("127.0.0.1", petrel.port("submissions"), timeout=15,
                          context=client_tls_context()) as s:
        s.ehlo("client.test")
        assert not s.has_extn("starttls")
        assert s.sock.version() in ("TLSv1.2", "TLSv1.3")
        code, _ = s.login(USER, PASSWORD)
        assert code == 235
        s.mail("app@client.test")
        s.rcpt("someone@other.test")
        _queued_id(*s.data(simple_message(marker)))
    petrel.wait_for_stored(marker.encode())


def test_smtplib_login_wrong_password_is_535(petrel):
    with smtplib.SMTP_SSL("127.0.0.1", petrel.port("submissions"), timeout=15,
                          context=client_tls_context()) as s:
        s.ehlo("client.test")
        try:
            s.login(USER, "wrong password")
            raise AssertionError("login with a wrong password succeeded")
        except smtplib.SMTPAuthenticationError as e:
            assert e.smtp_code == 535 and e.smtp_error.startswith(b"5.7.8"), e
