// Unit tests for config/: defaults, every key, every error with its line (config.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "config/config.h"
#include "config/values.h"

namespace petrel::config {
namespace {

class ConfigFile : public ::testing::Test {
protected:
    void SetUp() override {
        char tmpl[] = "/tmp/petrel-config-test-XXXXXX";
        ASSERT_NE(mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        path_ = dir_ + "/petrel.toml";
    }
    void TearDown() override {
        ::unlink(path_.c_str());
        ::rmdir(dir_.c_str());
    }
    Config load(const std::string& text) {
        std::ofstream(path_) << text;
        return load_config(path_);
    }
    // The error for `text`, as "LINE: message" (the file name stripped).
    std::string error_of(const std::string& text) {
        try {
            load(text);
        } catch (const ConfigError& e) {
            std::string what = e.what();
            EXPECT_EQ(what.rfind(path_ + ":", 0), 0u) << what;
            EXPECT_EQ(e.file(), path_);
            return what.substr(path_.size() + 1);
        }
        return "no error";
    }
    std::string dir_, path_;
};

TEST(ConfigDefault, MatchesProduct) {
    Config c = default_config();
    EXPECT_EQ(c.data_dir, "./petrel-data");
    EXPECT_TRUE(c.source_file.empty());
    ASSERT_EQ(c.listeners.size(), 3u);
    EXPECT_EQ(c.listeners[0].kind, ListenerKind::Mx);
    EXPECT_EQ(c.listeners[0].address, "127.0.0.1:2525");
    EXPECT_EQ(c.listeners[0].port, 2525);
    EXPECT_EQ(c.listeners[1].kind, ListenerKind::Submission);
    EXPECT_EQ(c.listeners[1].port, 2587);
    EXPECT_EQ(c.listeners[2].kind, ListenerKind::Submissions);
    EXPECT_EQ(c.listeners[2].port, 2465);
    EXPECT_EQ(c.delivery_mode, DeliveryMode::Sandbox);
    EXPECT_EQ(c.http_address, "127.0.0.1:8025");
    EXPECT_FALSE(c.hostname.empty());
    EXPECT_EQ(c.hostname, system_hostname());
    EXPECT_FALSE(c.auth.allow_plaintext);
    EXPECT_EQ(c.queue.max_spool_bytes, 0u);
    EXPECT_EQ(c.limits.max_command_line, 512u);
    EXPECT_STREQ(to_string(ListenerKind::Submissions), "submissions");
    EXPECT_STREQ(to_string(DeliveryMode::Smarthost), "smarthost");
}

TEST_F(ConfigFile, EmptyFileIsTheDefault) {
    Config c = load("");
    EXPECT_EQ(c.source_file, path_);
    EXPECT_EQ(c.listeners.size(), 3u);
    EXPECT_EQ(c.delivery_mode, DeliveryMode::Sandbox);
}

TEST_F(ConfigFile, EveryKey) {
    Config c = load(R"(
data_dir = "/var/lib/petrel"
hostname = "MX.Example.TEST."
run_as = "petrel"
log_level = "debug"

[[listener]]
kind = "mx"
address = "0.0.0.0:25"

[[listener]]
kind = "submission"
address = "[::1]:587"

[[listener]]
kind = "submissions"
address = "[::]:465"

[tls]
cert = "/etc/petrel/cert.pem"
key = "/etc/petrel/key.pem"

[auth]
allow_plaintext = true
max_failures = 3
failure_window_seconds = 60
lockout_seconds = 120
failure_delay_ms = 250

[domains]
local = ["Example.TEST", "bücher.test"]
relay = ["partner.test"]

[limits]
max_command_line = 1024
max_auth_line = 4096
max_data_line = 2000
max_message_size = 1048576
max_recipients = 10
max_errors = 3
command_timeout_ms = 1500
data_timeout_ms = 2500
max_connections = 100
max_connections_per_ip = 5

[delivery]
mode = "mx"

[dns]
servers = ["127.0.0.1:5353", "::1", "[::1]:53"]
timeout_ms = 300
attempts = 1
cache_entries = 50

[http]
address = "127.0.0.1:9025"

[queue]
max_spool_bytes = 1000000

[testing]
outbound_port = 2500
)");
    EXPECT_EQ(c.data_dir, "/var/lib/petrel");
    EXPECT_EQ(c.hostname, "mx.example.test");
    EXPECT_EQ(c.run_as_user, "petrel");
    EXPECT_EQ(c.log_level, "debug");
    ASSERT_EQ(c.listeners.size(), 3u);
    EXPECT_EQ(c.listeners[0].host, "0.0.0.0");
    EXPECT_EQ(c.listeners[0].port, 25);
    EXPECT_EQ(c.listeners[1].kind, ListenerKind::Submission);
    EXPECT_EQ(c.listeners[1].host, "::1");
    EXPECT_EQ(c.listeners[1].port, 587);
    EXPECT_EQ(c.listeners[1].address, "[::1]:587");
    EXPECT_EQ(c.listeners[2].host, "::");
    EXPECT_EQ(c.tls.cert_file, "/etc/petrel/cert.pem");
    EXPECT_EQ(c.tls.key_file, "/etc/petrel/key.pem");
    EXPECT_TRUE(c.auth.allow_plaintext);
    EXPECT_EQ(c.auth.max_failures, 3u);
    EXPECT_EQ(c.auth.failure_window, std::chrono::seconds(60));
    EXPECT_EQ(c.auth.lockout, std::chrono::seconds(120));
    EXPECT_EQ(c.auth.failure_delay, std::chrono::milliseconds(250));
    EXPECT_EQ(c.domains.local, (std::vector<std::string>{"example.test", "xn--bcher-kva.test"}));
    EXPECT_EQ(c.domains.relay, (std::vector<std::string>{"partner.test"}));
    EXPECT_EQ(c.limits.max_command_line, 1024u);
    EXPECT_EQ(c.limits.max_auth_line, 4096u);
    EXPECT_EQ(c.limits.max_data_line, 2000u);
    EXPECT_EQ(c.limits.max_message_size, 1048576u);
    EXPECT_EQ(c.limits.max_recipients, 10u);
    EXPECT_EQ(c.limits.max_errors, 3u);
    EXPECT_EQ(c.limits.command_timeout, std::chrono::milliseconds(1500));
    EXPECT_EQ(c.limits.data_timeout, std::chrono::milliseconds(2500));
    EXPECT_EQ(c.max_connections, 100u);
    EXPECT_EQ(c.max_connections_per_ip, 5u);
    EXPECT_EQ(c.delivery_mode, DeliveryMode::Mx);
    EXPECT_EQ(c.dns.servers, (std::vector<std::string>{"127.0.0.1:5353", "[::1]:53", "[::1]:53"}));
    EXPECT_EQ(c.dns.timeout, std::chrono::milliseconds(300));
    EXPECT_EQ(c.dns.attempts, 1u);
    EXPECT_EQ(c.dns.cache_entries, 50u);
    EXPECT_EQ(c.http_address, "127.0.0.1:9025");
    EXPECT_EQ(c.queue.max_spool_bytes, 1000000u);
    ASSERT_TRUE(c.testing_outbound_port.has_value());
    EXPECT_EQ(*c.testing_outbound_port, 2500);
}

TEST_F(ConfigFile, PortZeroListenersMayRepeat) {
    Config c = load("[[listener]]\nkind = \"mx\"\naddress = \"127.0.0.1:0\"\n"
                    "[[listener]]\nkind = \"submission\"\naddress = \"127.0.0.1:0\"\n");
    EXPECT_EQ(c.listeners.size(), 2u);
}

struct ErrorCase {
    const char* name;
    const char* text;
    const char* expected;  // "LINE: message"
};

class ConfigErrors : public ConfigFile, public ::testing::WithParamInterface<ErrorCase> {};

TEST_P(ConfigErrors, NamesTheLine) { EXPECT_EQ(error_of(GetParam().text), GetParam().expected); }

const ErrorCase kErrors[] = {
    {"UnknownTopKey", "data_dir = \"x\"\n\n\n\n\n\nlistner = 1\n", "7: unknown key 'listner'"},
    {"UnknownTable", "hostname = \"a.test\"\n[smtp]\nx = 1\n", "2: unknown table 'smtp'"},
    {"UnknownNestedKey", "[limits]\nmax_recipients = 5\nmax_recipient = 5\n",
     "3: unknown key 'limits.max_recipient'"},
    {"UnknownListenerKey", "[[listener]]\nkind = \"mx\"\naddress = \"127.0.0.1:25\"\nport = 25\n",
     "4: unknown key 'listener.port'"},
    {"BadKind", "[[listener]]\nkind = \"smtp\"\naddress = \"127.0.0.1:25\"\n",
     "2: bad listener kind 'smtp' (mx, submission or submissions)"},
    {"MissingKind", "[[listener]]\naddress = \"127.0.0.1:25\"\n",
     "1: [[listener]] needs kind = \"mx\" | \"submission\" | \"submissions\""},
    {"MissingAddress", "[[listener]]\nkind = \"mx\"\n", "1: [[listener]] needs address = \"host:port\""},
    {"BadAddressHost", "[[listener]]\nkind = \"mx\"\naddress = \"localhost:25\"\n",
     "3: [[listener]] address: bad address 'localhost:25': host must be an IP address"},
    {"PortOutOfRange", "[[listener]]\nkind = \"mx\"\naddress = \"127.0.0.1:70000\"\n",
     "3: [[listener]] address: bad address '127.0.0.1:70000': port 70000 out of range (0-65535)"},
    {"NoPort", "[[listener]]\nkind = \"mx\"\naddress = \"127.0.0.1\"\n",
     "3: [[listener]] address: bad address '127.0.0.1': expected host:port"},
    {"Ipv6WithoutBrackets", "[[listener]]\nkind = \"mx\"\naddress = \"::1:25\"\n",
     "3: [[listener]] address: bad address '::1:25': write IPv6 as [addr]:port"},
    {"DuplicateListener",
     "[[listener]]\nkind = \"mx\"\naddress = \"127.0.0.1:25\"\n"
     "[[listener]]\nkind = \"submission\"\naddress = \"127.0.0.1:25\"\n",
     "6: duplicate listener address '127.0.0.1:25'"},
    {"ListenerNotArray", "[listener]\nkind = \"mx\"\n",
     "1: 'listener' must be an array of tables: [[listener]]"},
    {"NegativeSize", "[limits]\nmax_message_size = -5\n", "2: 'max_message_size' must not be negative"},
    {"CommandLineBelowRfc", "[limits]\nmax_command_line = 100\n",
     "2: 'max_command_line' must be between 512 and 65536"},
    {"DataLineBelowRfc", "[limits]\nmax_data_line = 999\n",
     "2: 'max_data_line' must be between 1000 and 1048576"},
    {"WrongType", "data_dir = 5\n", "1: 'data_dir' must be a string"},
    {"WrongTypeInt", "[limits]\nmax_recipients = \"ten\"\n", "2: 'max_recipients' must be an integer"},
    {"WrongTypeBool", "[auth]\nallow_plaintext = \"yes\"\n", "2: 'allow_plaintext' must be true or false"},
    {"ZeroRecipients", "[limits]\nmax_recipients = 0\n", "2: 'max_recipients' must be between 1 and 100000"},
    {"BadMode", "\n[delivery]\nmode = \"deliver\"\n", "3: bad delivery mode 'deliver' (sandbox, mx or smarthost)"},
    {"BadLogLevel", "log_level = \"loud\"\n",
     "1: log_level must be one of trace, debug, info, warn, error, critical, off"},
    {"DuplicateDomain", "[domains]\nlocal = [\"a.test\"]\nrelay = [\"A.test\"]\n",
     "3: [domains] lists 'a.test' twice"},
    {"DomainsNotStrings", "[domains]\nlocal = [1]\n", "2: 'local' must be an array of strings"},
    {"TlsHalf", "[tls]\ncert = \"c.pem\"\n", "1: [tls] needs both cert and key (or neither, for a self-signed pair)"},
    {"BadDns", "[dns]\nservers = [\"dns.example:53\"]\n",
     "2: [dns] servers: bad address 'dns.example:53': host must be an IP address"},
    {"DnsTimeoutZero", "[dns]\ntimeout_ms = 0\n", "2: 'timeout_ms' must be between 10 and 60000"},
    {"DnsAttemptsHigh", "[dns]\n\nattempts = 11\n", "3: 'attempts' must be between 1 and 10"},
    {"BadHttp", "[http]\naddress = \"127.0.0.1\"\n",
     "2: [http] address: bad address '127.0.0.1': expected host:port"},
    {"OutboundPortZero", "[testing]\noutbound_port = 0\n", "2: 'outbound_port' must be between 1 and 65535"},
    {"NegativeQuota", "[queue]\nmax_spool_bytes = -1\n", "2: 'max_spool_bytes' must not be negative"},
    {"EmptyDataDir", "data_dir = \"\"\n", "1: data_dir must not be empty"},
    {"TableNotTable", "limits = 5\n", "1: 'limits' must be a table: [limits]"},
};

INSTANTIATE_TEST_SUITE_P(All, ConfigErrors, ::testing::ValuesIn(kErrors),
                         [](const auto& info) { return std::string(info.param.name); });

// Errors whose message comes from a library: only the line is pinned.
TEST_F(ConfigFile, LibraryErrorsStillNameTheLine) {
    auto starts = [&](const std::string& text, const std::string& prefix) {
        std::string e = error_of(text);
        EXPECT_EQ(e.rfind(prefix, 0), 0u) << e;
    };
    starts("[domains]\nlocal = [\"ex ample.test\"]\n", "2: [domains] local: bad domain 'ex ample.test'");
    starts("hostname = \"-bad-.test\"\n", "1: hostname: bad domain");
    starts("data_dir = \"x\"\nhostname = \n", "2: ");
    starts("data_dir = \"x\"\ndata_dir = \"y\"\n", "2: ");
}

TEST(ConfigMissing, MissingFileIsAnError) {
    EXPECT_THROW(load_config("/nonexistent/petrel.toml"), ConfigError);
}

TEST(ConfigValues, HostPort) {
    std::string err;
    auto hp = parse_host_port("[2001:db8::1]:2525", std::nullopt, err);
    ASSERT_TRUE(hp);
    EXPECT_EQ(hp->host, "2001:db8::1");
    EXPECT_EQ(hp->port, 2525);
    EXPECT_FALSE(parse_host_port("[::1]x", std::nullopt, err));
    EXPECT_FALSE(parse_host_port("[::1", std::nullopt, err));
    EXPECT_FALSE(parse_host_port("1.2.3.4:", std::nullopt, err));
    EXPECT_FALSE(parse_host_port("1.2.3.4:-1", std::nullopt, err));
    EXPECT_FALSE(parse_host_port("1.2.3:25", std::nullopt, err));
    EXPECT_FALSE(parse_host_port("[1.2.3.4]:25", std::nullopt, err));
    auto d = parse_host_port("10.0.0.1", uint16_t{53}, err);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->port, 53);
}

TEST(ConfigValues, Domains) {
    std::string err;
    EXPECT_EQ(normalize_domain("Example.TEST.", err).value_or(""), "example.test");
    EXPECT_EQ(normalize_domain("BÜCHER.test", err).value_or(""), "xn--bcher-kva.test");
    EXPECT_FALSE(normalize_domain("", err));
    EXPECT_FALSE(normalize_domain("a..b", err));
    EXPECT_FALSE(normalize_domain("a_b.test", err));
    EXPECT_FALSE(normalize_domain("[127.0.0.1]", err));
    EXPECT_FALSE(normalize_domain(std::string(64, 'a') + ".test", err));
}

// [local] (config.h Local; docs/configuration.md): defaults, every key, errors with their line.
TEST_F(ConfigFile, LocalDefaults) {
    EXPECT_EQ(default_config().local.maildir_root, "./petrel-data/mail");
    Config c = load("data_dir = \"/srv/petrel\"\n");
    EXPECT_EQ(c.local.maildir_root, "/srv/petrel/mail");
    EXPECT_TRUE(c.local.users.empty());
    EXPECT_TRUE(c.local.aliases.empty());
    EXPECT_FALSE(c.local.use_store_users);
}

TEST_F(ConfigFile, LocalEveryKey) {
    Config c = load(
        "[local]\n"
        "maildir_root = \"/var/mail/petrel\"\n"
        "users = [\"Alice\", \"bob\"]\n"
        "use_store_users = true\n"
        "aliases = { Postmaster = \"alice\", info = \"BOB\" }\n");
    EXPECT_EQ(c.local.maildir_root, "/var/mail/petrel");
    EXPECT_EQ(c.local.users, (std::vector<std::string>{"alice", "bob"}));
    EXPECT_TRUE(c.local.use_store_users);
    ASSERT_EQ(c.local.aliases.size(), 2u);
    EXPECT_EQ(c.local.aliases[0], (std::pair<std::string, std::string>{"postmaster", "alice"}));
    EXPECT_EQ(c.local.aliases[1], (std::pair<std::string, std::string>{"info", "bob"}));
}

TEST_F(ConfigFile, LocalAliasesAsATable) {
    Config c = load("[local]\nusers = [\"alice\"]\n[local.aliases]\nabuse = \"alice\"\n");
    ASSERT_EQ(c.local.aliases.size(), 1u);
    EXPECT_EQ(c.local.aliases[0].first, "abuse");
}

TEST_F(ConfigFile, LocalErrorsNameTheLine) {
    EXPECT_EQ(error_of("[local]\nuser = [\"a\"]\n"), "2: unknown key 'local.user'");
    EXPECT_EQ(error_of("[local]\n\nusers = [\"../etc\"]\n"),
              "3: [local] users: '../etc' is not a usable mailbox name");
    EXPECT_EQ(error_of("[local]\nusers = [\"a\", \"A\"]\n"), "2: [local] users lists 'a' twice");
    EXPECT_EQ(error_of("[local]\nmaildir_root = \"\"\n"), "2: [local] maildir_root must not be empty");
    EXPECT_EQ(error_of("[local]\nuse_store_users = 1\n"), "2: 'use_store_users' must be true or false");
    EXPECT_EQ(error_of("[local]\nusers = [\"a\"]\n[local.aliases]\nx = 5\n"),
              "4: [local.aliases] 'x' must be a user name (a string)");
    EXPECT_EQ(error_of("[local]\nusers = [\"a\"]\n[local.aliases]\nx = \"a/b\"\n"),
              "4: [local.aliases] 'x': not a usable mailbox name");
    EXPECT_EQ(error_of("[local]\nusers = [\"a\"]\n[local.aliases]\na = \"b\"\n"),
              "4: [local] 'a' is both a user and an alias");
    EXPECT_EQ(error_of("[local]\n[local.aliases]\nx = \"y\"\ny = \"z\"\n"),
              "3: [local.aliases] 'x' points at the alias 'y': an alias must name a user");
    EXPECT_EQ(error_of("[local]\naliases = 3\n"), "2: 'aliases' must be a table: [aliases]");
}

TEST_F(ConfigFile, AuthenticationDefaults) {
    Config c = load("hostname = \"mx.example.test\"\n");
    EXPECT_TRUE(c.authentication.enabled);
    EXPECT_EQ(c.authentication.authserv_id, "mx.example.test");  // follows the hostname
    EXPECT_EQ(c.authentication.dmarc_reject, DmarcAction::Reject);
    EXPECT_FALSE(c.authentication.dmarc_quarantine_tag);
    EXPECT_EQ(default_config().authentication.authserv_id, default_config().hostname);
}

TEST_F(ConfigFile, AuthenticationEveryKey) {
    Config c = load("hostname = \"mx.example.test\"\n[authentication]\nenabled = false\n"
                    "authserv_id = \"auth.example.test\"\ndmarc_reject = \"tag\"\n"
                    "dmarc_quarantine = \"tag\"\n");
    EXPECT_FALSE(c.authentication.enabled);
    EXPECT_EQ(c.authentication.authserv_id, "auth.example.test");
    EXPECT_EQ(c.authentication.dmarc_reject, DmarcAction::Tag);
    EXPECT_TRUE(c.authentication.dmarc_quarantine_tag);
    EXPECT_EQ(load("[authentication]\ndmarc_reject = \"off\"\n").authentication.dmarc_reject,
              DmarcAction::Off);
    EXPECT_STREQ(to_string(DmarcAction::Off), "off");
}

TEST_F(ConfigFile, AuthenticationErrorsNameTheLine) {
    EXPECT_EQ(error_of("[authentication]\nenable = true\n"), "2: unknown key 'authentication.enable'");
    EXPECT_EQ(error_of("[authentication]\nenabled = \"yes\"\n"), "2: 'enabled' must be true or false");
    EXPECT_EQ(error_of("[authentication]\n\nauthserv_id = \"a b\"\n"),
              "3: [authentication] authserv_id must be a host name (letters, digits, '-', '.', '_')");
    EXPECT_EQ(error_of("[authentication]\nauthserv_id = \"x;y\"\n"),
              "2: [authentication] authserv_id must be a host name (letters, digits, '-', '.', '_')");
    EXPECT_EQ(error_of("[authentication]\ndmarc_reject = \"quarantine\"\n"),
              "2: [authentication] dmarc_reject must be reject, tag or off");
    EXPECT_EQ(error_of("[authentication]\ndmarc_quarantine = \"reject\"\n"),
              "2: [authentication] dmarc_quarantine must be tag or off");
    EXPECT_EQ(error_of("authentication = 1\n"), "1: 'authentication' must be a table: [authentication]");
}

}  // namespace
}  // namespace petrel::config
