// fuzz/control_request.cpp — libFuzzer target for control::parse_request (control/protocol.h),
// the parser of the request lines the control socket reads (<data_dir>/control.sock).
//
// The input is one request line. Checked beyond memory safety: parsing never throws; a
// refusal is an invalid_request whose response line (what the socket writes back) is JSON that
// parses again, so a client always gets a readable answer; an accepted request holds only
// what the queue may be given: IDs that base::is_valid_queue_id accepts, a list limit within
// 1..kMaxListLimit, a normalized domain (non-empty for a delete by domain), and exactly one of
// id / "all" for a flush.
#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "base/ids.h"
#include "control/protocol.h"

using namespace petrel;
using namespace petrel::control;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view line(reinterpret_cast<const char*>(data), size);
    std::variant<Request, Error> parsed = parse_request(line);
    if (const Error* e = std::get_if<Error>(&parsed)) {
        if (e->code != ErrorCode::InvalidRequest || e->message.empty()) __builtin_trap();
        const std::string reply = to_line(error_response(*e));
        boost::system::error_code ec;
        boost::json::value v = boost::json::parse(reply, ec);
        if (ec || !v.is_object() || reply.find('\n') != std::string::npos) __builtin_trap();
        return 0;
    }
    const Request& r = std::get<Request>(parsed);
    auto id_ok = [](const std::string& id) { return base::is_valid_queue_id(id); };
    switch (r.command) {
        case Command::List:
            if (r.query.limit < 1 || r.query.limit > kMaxListLimit) __builtin_trap();
            if (!r.query.after_id.empty() && !id_ok(r.query.after_id)) __builtin_trap();
            if (r.query.recipient_domain != r.domain) __builtin_trap();
            break;
        case Command::Show:
        case Command::Hold:
        case Command::Release:
            if (!id_ok(r.id)) __builtin_trap();
            break;
        case Command::Delete:
            if (r.id.empty() == r.domain.empty()) __builtin_trap();
            if (!r.id.empty() && !id_ok(r.id)) __builtin_trap();
            break;
        case Command::Flush:
            if (!r.id.empty() && !id_ok(r.id)) __builtin_trap();
            break;
    }
    // A normalized domain is lower-case ASCII (A-labels), or an address literal whose only
    // capitals are its "IPv6:" tag.
    std::string_view d = r.domain;
    if (d.starts_with("[IPv6:")) d.remove_prefix(6);
    for (char c : d) {
        if (static_cast<unsigned char>(c) >= 0x80 || (c >= 'A' && c <= 'Z')) __builtin_trap();
    }
    return 0;
}
