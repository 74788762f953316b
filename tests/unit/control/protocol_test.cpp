// tests/unit/control/protocol_test.cpp — the control protocol's request parsing and JSON
// helpers (control/protocol.h, control/message_json.h): malformed, oversized and unknown
// requests map to the stable error codes; fields are type- and range-checked; IDs validated;
// domains normalized to A-labels. Pure: no socket, no queue.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <string>
#include <variant>

#include "control/message_json.h"
#include "control/protocol.h"

namespace petrel::control {
namespace {

const char* kId = "0abcdefghjkmnp";  // 14 characters of the queue-ID alphabet

Error parse_error(const std::string& line) {
    auto r = parse_request(line);
    EXPECT_TRUE(std::holds_alternative<Error>(r)) << line;
    return std::holds_alternative<Error>(r) ? std::get<Error>(r) : Error{};
}

Request parse_ok(const std::string& line) {
    auto r = parse_request(line);
    if (auto* e = std::get_if<Error>(&r)) ADD_FAILURE() << line << ": " << e->message;
    return std::holds_alternative<Request>(r) ? std::get<Request>(r) : Request{};
}

TEST(ControlProtocol, BadJsonIsInvalidRequest) {
    for (const char* line : {"", "{", "{\"command\":", "not json", "{\"command\":\"list\"} x",
                             "\xff\xfe"}) {
        Error e = parse_error(line);
        EXPECT_EQ(e.code, ErrorCode::InvalidRequest) << line;
    }
}

TEST(ControlProtocol, NonObjectIsInvalidRequest) {
    for (const char* line : {"[]", "\"list\"", "42", "null", "true"}) {
        EXPECT_EQ(parse_error(line).code, ErrorCode::InvalidRequest) << line;
    }
}

TEST(ControlProtocol, OversizeIsRefusedBeforeParsing) {
    // Valid JSON, but one byte over the limit: refused by size, not by content.
    std::string line = "{\"command\":\"list\",\"domain\":\"";
    line += std::string(kMaxRequestBytes + 1 - line.size() - 2, 'a');
    line += "\"}";
    ASSERT_EQ(line.size(), kMaxRequestBytes + 1);
    Error e = parse_error(line);
    EXPECT_EQ(e.code, ErrorCode::InvalidRequest);
    EXPECT_NE(e.message.find("longer than 65536"), std::string::npos) << e.message;
}

TEST(ControlProtocol, DeepNestingIsRefused) {
    std::string line = "{\"command\":\"list\",\"x\":" + std::string(100, '[') +
                       std::string(100, ']') + "}";
    EXPECT_EQ(parse_error(line).code, ErrorCode::InvalidRequest);
}

TEST(ControlProtocol, UnknownOrMissingCommand) {
    EXPECT_EQ(parse_error(R"({"command":"explode"})").message, "unknown command");
    EXPECT_EQ(parse_error(R"({"command":"LIST"})").message, "unknown command");
    EXPECT_EQ(parse_error(R"({})").message, "command is required");
    EXPECT_EQ(parse_error(R"({"command":1})").code, ErrorCode::InvalidRequest);
}

TEST(ControlProtocol, UnknownFieldIsRefused) {
    Error e = parse_error(R"({"command":"delete","id":"0abcdefghjkmnp","force":true})");
    EXPECT_EQ(e.code, ErrorCode::InvalidRequest);
    EXPECT_NE(e.message.find("force"), std::string::npos);
    // A field of another command is unknown too: a typo must not widen a flush.
    EXPECT_EQ(parse_error(R"({"command":"flush","domain":"example.test","all":true})").code,
              ErrorCode::InvalidRequest);
}

TEST(ControlProtocol, ListDefaultsAndLimits) {
    Request r = parse_ok(R"({"command":"list"})");
    EXPECT_EQ(r.command, Command::List);
    EXPECT_EQ(r.query.limit, kDefaultListLimit);
    EXPECT_EQ(r.query.after_id, "");
    EXPECT_FALSE(r.query.state.has_value());
    EXPECT_EQ(parse_ok(R"({"command":"list","limit":10000})").query.limit, 10000u);
    EXPECT_EQ(parse_ok(R"({"command":"list","limit":1})").query.limit, 1u);
    for (const char* limit : {"0", "-1", "10001", "18446744073709551615", "1.5", "\"10\"", "null"}) {
        std::string line = std::string(R"({"command":"list","limit":)") + limit + "}";
        EXPECT_EQ(parse_error(line).code, ErrorCode::InvalidRequest) << limit;
    }
}

TEST(ControlProtocol, ListFilters) {
    Request r = parse_ok(std::string(R"({"command":"list","after":")") + kId +
                         R"(","domain":"B\u00fccher.TEST","state":"held"})");
    EXPECT_EQ(r.query.after_id, kId);
    EXPECT_EQ(r.query.recipient_domain, "xn--bcher-kva.test");
    ASSERT_TRUE(r.query.state.has_value());
    EXPECT_EQ(*r.query.state, queue::MessageState::Held);
    EXPECT_EQ(parse_error(R"({"command":"list","after":"../../etc"})").code,
              ErrorCode::InvalidRequest);
    EXPECT_EQ(parse_error(R"({"command":"list","state":"stuck"})").code, ErrorCode::InvalidRequest);
    EXPECT_EQ(parse_error(R"({"command":"list","domain":"bad domain"})").code,
              ErrorCode::InvalidRequest);
    EXPECT_EQ(parse_ok(R"({"command":"list","domain":"[127.0.0.1]"})").query.recipient_domain,
              "[127.0.0.1]");
}

TEST(ControlProtocol, IdIsRequiredAndValidated) {
    for (const char* cmd : {"show", "hold", "release"}) {
        EXPECT_EQ(parse_error(std::string(R"({"command":")") + cmd + "\"}").message,
                  "id is required");
        for (const char* bad : {"", "short", "0ABCDEFGHJKMNP", "0abcdefghjkmni", "../spool/lock0",
                                "0abcdefghjkmnp0"}) {
            std::string line = std::string(R"({"command":")") + cmd + R"(","id":")" + bad + "\"}";
            Error e = parse_error(line);
            EXPECT_EQ(e.code, ErrorCode::InvalidRequest) << line;
            EXPECT_NE(e.message.find("not a queue ID"), std::string::npos) << e.message;
        }
        Request r = parse_ok(std::string(R"({"command":")") + cmd + R"(","id":")" + kId + "\"}");
        EXPECT_EQ(r.id, kId);
    }
    EXPECT_TRUE(parse_ok(std::string(R"({"command":"show","raw":true,"id":")") + kId + "\"}").raw);
    EXPECT_EQ(parse_error(std::string(R"({"command":"show","raw":1,"id":")") + kId + "\"}").code,
              ErrorCode::InvalidRequest);
}

TEST(ControlProtocol, DeleteTakesIdOrDomain) {
    EXPECT_EQ(parse_ok(std::string(R"({"command":"delete","id":")") + kId + "\"}").id, kId);
    Request r = parse_ok(R"({"command":"delete","domain":"Partner.Test"})");
    EXPECT_EQ(r.id, "");
    EXPECT_EQ(r.domain, "partner.test");
    EXPECT_EQ(parse_error(R"({"command":"delete"})").code, ErrorCode::InvalidRequest);
    EXPECT_EQ(parse_error(std::string(R"({"command":"delete","domain":"a.test","id":")") + kId +
                          "\"}")
                  .code,
              ErrorCode::InvalidRequest);
}

TEST(ControlProtocol, FlushTakesIdOrAll) {
    EXPECT_EQ(parse_ok(R"({"command":"flush","all":true})").id, "");
    EXPECT_EQ(parse_ok(std::string(R"({"command":"flush","id":")") + kId + "\"}").id, kId);
    EXPECT_EQ(parse_error(R"({"command":"flush"})").code, ErrorCode::InvalidRequest);
    EXPECT_EQ(parse_error(R"({"command":"flush","all":false})").code, ErrorCode::InvalidRequest);
    EXPECT_EQ(parse_error(std::string(R"({"command":"flush","all":true,"id":")") + kId + "\"}").code,
              ErrorCode::InvalidRequest);
}

TEST(ControlProtocol, ErrorResponseShapeIsStable) {
    EXPECT_EQ(to_line(error_response({ErrorCode::NotFound, "no message x"})),
              R"({"ok":false,"error":{"code":"not_found","message":"no message x"}})");
    EXPECT_EQ(to_string(ErrorCode::InvalidRequest), "invalid_request");
    EXPECT_EQ(to_string(ErrorCode::IoError), "io_error");
}

TEST(ControlJson, Utf8ReplacementKeepsJsonValid) {
    EXPECT_EQ(utf8_or_replacement("plain"), "plain");
    EXPECT_EQ(utf8_or_replacement("b\xc3\xbc"), "b\xc3\xbc");
    EXPECT_EQ(utf8_or_replacement("a\xff" "b"), "a\xef\xbf\xbd" "b");
    EXPECT_EQ(utf8_or_replacement("\xc3"), "\xef\xbf\xbd");
}

TEST(ControlJson, HeaderBlockEndsAtTheEmptyLine) {
    EXPECT_EQ(header_block("A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore"), "A: 1\r\nB: 2\r\n");
    EXPECT_EQ(header_block("A: 1\r\n"), "A: 1\r\n");
    EXPECT_EQ(header_block("\r\nbody"), "");
}

TEST(ControlJson, MessageShape) {
    queue::MessageInfo m;
    m.id = kId;
    m.created_ms = 1'795'000'000'000;
    m.size = 1234;
    m.sender = "";
    m.recipients.push_back({"x@y.test", queue::RecipientState::Pending, 2, "450 busy"});
    m.state = queue::MessageState::Held;
    m.next_attempt_ms = 1'795'000'060'000;
    boost::json::object o = message_json(m, m.created_ms + 12'500);
    EXPECT_EQ(o["created"].as_string(), iso_time(m.created_ms));
    EXPECT_EQ(o["age_seconds"].as_int64(), 12);
    EXPECT_EQ(o["sender"].as_string(), "");
    EXPECT_EQ(o["state"].as_string(), "held");
    EXPECT_TRUE(o["next_attempt"].is_null());  // held: nothing scheduled
    EXPECT_EQ(o["recipients"].as_array()[0].as_object()["state"].as_string(), "pending");
    m.state = queue::MessageState::Deferred;
    EXPECT_EQ(message_json(m, 0)["next_attempt"].as_string(), iso_time(m.next_attempt_ms));
    EXPECT_EQ(iso_time(0), "1970-01-01T00:00:00Z");
    EXPECT_EQ(iso_time(1'795'000'000'999), "2026-11-18T11:06:40Z");
}

}  // namespace
}  // namespace petrel::control
