// tests/unit/control/control_server_test.cpp — control::ControlServer and ControlClient over a
// real Unix-domain socket, in-process, against a real FileSpool + QueueManager in a temp dir:
// socket mode 0600, a stale socket replaced, a non-socket path refused, requests answered in
// order, an over-long request answered with invalid_request and the connection closed, and
// stop() removing the socket. The io_context runs on its own thread; the client blocks.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/parse.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include "control/control_client.h"
#include "control/control_server.h"
#include "control/protocol.h"
#include "queue/file_spool.h"
#include "queue/queue_manager.h"

namespace petrel::control {
namespace {

namespace fs = std::filesystem;

class ControlServerTest : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/petrel-ctl-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        spool_ = std::make_unique<queue::FileSpool>(queue::FileSpoolOptions{dir_});
        queue_ = std::make_unique<queue::QueueManager>(*spool_);
        queue_->recover();
        path_ = socket_path(dir_);
    }
    void TearDown() override {
        stop_server();
        queue_.reset();
        spool_.reset();
        fs::remove_all(dir_);
    }

    void start_server() {
        server_ = std::make_unique<ControlServer>(io_, *queue_, path_);
        server_->start();
        thread_ = std::thread([this] { io_.run(); });
    }
    void stop_server() {
        if (!server_) return;
        boost::asio::post(io_, [this] { server_->stop(); });
        thread_.join();
        server_.reset();
    }

    std::string call(ControlClient& c, const std::string& request) {
        std::string response, error;
        EXPECT_TRUE(c.call(request, response, error)) << error;
        return response;
    }

    static std::string code_of(const std::string& response) {
        boost::json::value v = boost::json::parse(response);
        return std::string(v.at("error").at("code").as_string());
    }

    std::string dir_, path_;
    std::unique_ptr<queue::FileSpool> spool_;
    std::unique_ptr<queue::QueueManager> queue_;
    boost::asio::io_context io_;
    std::unique_ptr<ControlServer> server_;
    std::thread thread_;
};

TEST_F(ControlServerTest, SocketIsMode0600AndRemovedOnStop) {
    start_server();
    struct stat st {};
    ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0600u);
    EXPECT_EQ(st.st_uid, ::geteuid());
    stop_server();
    EXPECT_FALSE(fs::exists(path_));
}

TEST_F(ControlServerTest, AnswersRequestsInOrderOnOneConnection) {
    start_server();
    ControlClient c;
    std::string error;
    ASSERT_EQ(c.connect(path_, error), ConnectStatus::Connected) << error;
    EXPECT_EQ(call(c, R"({"command":"list"})"), R"({"ok":true,"total":0,"next_after":null,"messages":[]})");
    EXPECT_EQ(code_of(call(c, R"({"command":"show","id":"0000000000000z"})")), "not_found");
    EXPECT_EQ(code_of(call(c, "{not json")), "invalid_request");
    EXPECT_EQ(code_of(call(c, R"({"command":"reboot"})")), "invalid_request");
    EXPECT_EQ(call(c, R"({"command":"flush","all":true})"), R"({"ok":true,"affected":0})");
}

TEST_F(ControlServerTest, OverLongRequestIsRefusedAndClosed) {
    start_server();
    ControlClient c;
    std::string error, response;
    ASSERT_EQ(c.connect(path_, error), ConnectStatus::Connected) << error;
    std::string huge = R"({"command":"list","domain":")" + std::string(kMaxRequestBytes + 10, 'a');
    // No newline inside the limit: the server answers once it has read kMaxRequestBytes + 1.
    ASSERT_TRUE(c.call(huge, response, error)) << error;
    EXPECT_EQ(code_of(response), "invalid_request");
    EXPECT_FALSE(c.call(R"({"command":"list"})", response, error));
}

TEST_F(ControlServerTest, StaleSocketIsReplacedAndOtherFilesRefused) {
    // A socket file nobody listens on, as a crash leaves it.
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::close(fd);
    ControlClient refused;
    std::string error;
    EXPECT_EQ(refused.connect(path_, error), ConnectStatus::NoDaemon);

    start_server();
    ControlClient c;
    ASSERT_EQ(c.connect(path_, error), ConnectStatus::Connected) << error;
    stop_server();

    std::ofstream(path_) << "not a socket";
    ControlServer other(io_, *queue_, path_);
    EXPECT_THROW(other.start(), std::runtime_error);
    EXPECT_TRUE(fs::is_regular_file(path_)) << "a regular file is never removed";
}

TEST_F(ControlServerTest, NoSocketIsNoDaemon) {
    ControlClient c;
    std::string error;
    EXPECT_EQ(c.connect(path_, error), ConnectStatus::NoDaemon);
}

}  // namespace
}  // namespace petrel::control
