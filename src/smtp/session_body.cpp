// smtp/session_body.cpp — DATA and BDAT: starting, ending and judging a message body.
//
// RFC 5321 §4.1.1.4 (DATA, 354, <CRLF>.<CRLF>), §4.5.2 (transparency), §4.5.3.1.6 (text line
// 1000 octets: 500 5.5.6), §4.5.3.1.7 / RFC 1870 (size: 552 5.3.4); RFC 3030 §2 (BDAT n [LAST],
// exact octet counts; the chunk is always consumed, even when the command is refused, so the
// session stays in step), §3 (BINARYMIME only with BDAT), §4.2 (DATA and BDAT not mixed).
// Bare CR/LF in a text body: 550 5.5.2 after the end of the message (SMTP smuggling).
#include "smtp/session_impl.h"
#include "base/number.h"

namespace petrel::smtp {
namespace {

Reply body_error(const BodyFlags& f) {
    if (f.bare_cr_lf) return Reply(550, "5.5.2", "Error: bare CR or LF in message not allowed");
    if (f.line_too_long) return Reply(500, "5.5.6", "Error: message line too long");
    return Reply(552, "5.3.4", "Error: message size exceeds fixed maximum message size");
}

}  // namespace

void ServerSession::Impl::cmd_data(const Command& cmd) {
    if (!cmd.arg.empty()) return reject(Reply(501, "5.5.4", "Syntax: DATA"));
    if (!in_transaction) return reject(Reply(503, "5.5.1", "Error: need MAIL command"));
    if (envelope.recipients.empty()) return reject(Reply(554, "5.5.1", "Error: no valid recipients"));
    if (used_bdat) return reject(Reply(503, "5.5.1", "Error: DATA after BDAT not allowed"));
    if (envelope.params.body == mail::BodyType::BinaryMime)
        return reject(Reply(503, "5.5.1", "Error: BODY=BINARYMIME requires BDAT"));
    // RFC 2034 §3 does not cover 354 (an intermediate reply): sent without an enhanced code.
    send(Reply(354, "", "End data with <CR><LF>.<CR><LF>"));
    dot = std::make_unique<DotReader>(cfg.limits.max_data_line, cfg.limits.max_message_size);
    mode = Mode::Data;
}

void ServerSession::Impl::finish_data() {
    mode = Mode::Command;
    const BodyFlags flags = dot->flags();
    if (flags.any()) {
        if (flags.bare_cr_lf) event("protocol", "bare CR or LF in DATA");
        reset_transaction();
        reject(body_error(flags));
        return;
    }
    request_commit();
}

void ServerSession::Impl::cmd_bdat(const Command& cmd) {
    // BDAT chunk-size [SP "LAST"]
    std::string_view arg = cmd.arg;
    const size_t sp = arg.find(' ');
    std::optional<uint64_t> n = base::parse_decimal_u64(arg.substr(0, sp));
    bool last = false;
    if (sp != std::string_view::npos) {
        std::string_view tail = arg.substr(sp + 1);
        if (equals_ci(tail, "LAST")) last = true;
        else n.reset();
    }
    if (!n) {
        // The chunk length is unknown, so its octets cannot be skipped: they will be read as
        // commands and most likely fail; the error limit ends a session that goes on like this.
        return reject(Reply(501, "5.5.4", "Syntax: BDAT chunk-size [LAST]"));
    }
    bdat_remaining = *n;
    bdat_size = *n;
    bdat_last = last;
    bdat_error.reset();
    if (!helo_done || !in_transaction) bdat_error = Reply(503, "5.5.1", "Error: need MAIL command");
    else if (envelope.recipients.empty()) bdat_error = Reply(554, "5.5.1", "Error: no valid recipients");
    if (!bdat_error) {
        used_bdat = true;
        if (!chunks) {
            chunks = std::make_unique<ChunkCollector>(cfg.limits.max_data_line, cfg.limits.max_message_size,
                                                      envelope.params.body == mail::BodyType::BinaryMime);
        }
    }
    mode = Mode::Bdat;
    if (bdat_remaining == 0) finish_chunk();
}

void ServerSession::Impl::finish_chunk() {
    mode = Mode::Command;
    if (bdat_error) {
        Reply r = std::move(*bdat_error);
        bdat_error.reset();
        return reject(r);
    }
    if (chunks->flags().too_big) {
        // Enforced across chunks at the chunk that passes the limit; the transaction ends here.
        reset_transaction();
        return reject(body_error(BodyFlags{false, false, true}));
    }
    if (!bdat_last) {
        send(Reply(250, "2.0.0", std::to_string(bdat_size) + " octets received"));
        return;
    }
    chunks->finish();
    const BodyFlags flags = chunks->flags();
    if (flags.any()) {
        if (flags.bare_cr_lf) event("protocol", "bare CR or LF in BDAT text body");
        reset_transaction();
        return reject(body_error(flags));
    }
    request_commit();
}

}  // namespace petrel::smtp
