// Test fixture for the queue manager: a temp data_dir, a FileSpool and a QueueManager over it,
// restartable (both destroyed and reopened on the same directory, as after a crash).
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <future>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "queue/file_spool.h"
#include "queue/queue_manager.h"

namespace petrel::queue::testing {

class QueueFixture : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/petrel-qm-test-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        open();
    }
    void TearDown() override {
        close();
        std::filesystem::remove_all(dir_);
    }

    void open(bool capture = false) {
        spool_ = std::make_unique<FileSpool>(FileSpoolOptions{dir_, max_spool_bytes_, capture});
        qm_ = std::make_unique<QueueManager>(*spool_);
    }
    void close() {
        qm_.reset();
        spool_.reset();
    }
    // Stops everything and starts again on the same spool: what a restart after a crash sees
    // (every acknowledged write is on disk; nothing else is kept).
    RecoveryStats restart(bool capture = false) {
        close();
        return reopen(capture);
    }
    // After close() and changes to the files: open again and recover.
    RecoveryStats reopen(bool capture = false) {
        open(capture);
        return qm_->recover();
    }

    static mail::Envelope envelope(std::vector<std::string> rcpts = {"alice@example.test"},
                                   std::string sender = "sender@client.test") {
        mail::Envelope e;
        if (!sender.empty()) {
            auto at = sender.find('@');
            e.sender = mail::Mailbox{sender.substr(0, at), sender.substr(at + 1)};
        }
        for (const std::string& r : rcpts) {
            auto at = r.find('@');
            mail::Recipient rc;
            rc.mailbox = {r.substr(0, at), r.substr(at + 1)};
            e.recipients.push_back(rc);
        }
        e.facts.listener = "mx";
        e.facts.client_ip = "127.0.0.1";
        return e;
    }

    // Commits through the QueueManager and waits for `done`; returns the ID ("" on failure).
    std::string commit(mail::Envelope e = envelope(), std::string msg = "Subject: t\r\n\r\nhi\r\n") {
        std::string id = qm_->new_id();
        std::promise<CommitOutcome> p;
        auto f = p.get_future();
        qm_->commit(id, std::move(e), std::move(msg), [&p](CommitOutcome o) { p.set_value(std::move(o)); });
        return f.get().status == CommitStatus::Ok ? id : "";
    }

    std::string queue_path(const std::string& id) const { return dir_ + "/spool/queue/" + id; }
    std::string journal_path(const std::string& id) const { return dir_ + "/spool/state/" + id; }
    static bool exists(const std::string& p) { return std::filesystem::exists(p); }
    static std::string slurp(const std::string& p) {
        std::ifstream in(p, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    static void spit(const std::string& p, const std::string& data) {
        std::ofstream(p, std::ios::binary | std::ios::trunc) << data;
    }

    std::string dir_;
    uint64_t max_spool_bytes_ = 0;  // the quota the next open() uses
    std::unique_ptr<FileSpool> spool_;
    std::unique_ptr<QueueManager> qm_;
};

}  // namespace petrel::queue::testing
