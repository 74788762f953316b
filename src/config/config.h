// config/config.h — the validated, immutable configuration snapshot.
//
// Loaded from one TOML file (config/load.cpp) or built as the zero-config default
// (PRODUCT.md). Every key and default is documented in docs/configuration.md; keep them in step.
// Trust: the file is the operator's, but it is still validated fully; errors name file and line.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "smtp/limits.h"

namespace petrel::config {

enum class ListenerKind { Mx, Submission, Submissions };
enum class DeliveryMode { Sandbox, Mx, Smarthost };

struct Listener {
    ListenerKind kind = ListenerKind::Mx;
    std::string host;      // "127.0.0.1", "::1", "0.0.0.0", "::"
    uint16_t port = 0;
    std::string address;   // as written: "127.0.0.1:2525", "[::1]:2525"
};

struct Tls {
    std::string cert_file;  // empty: self-signed pair generated under data_dir/tls/
    std::string key_file;
};

struct Auth {
    bool allow_plaintext = false;  // offer AUTH without TLS (never on by default)
    unsigned max_failures = 5;     // per client IP within `failure_window`, then refused
    std::chrono::seconds failure_window{300};
    std::chrono::seconds lockout{600};
    std::chrono::milliseconds failure_delay{1000};  // added to each failed attempt
};

struct Domains {
    std::vector<std::string> local;   // normalized (lower-case A-labels)
    std::vector<std::string> relay;
};

// The spool (queue/, docs/queue-format.md).
struct Queue {
    uint64_t max_spool_bytes = 0;  // quota on the spool's size; 0: none (disk full still 452)
};

struct Config {
    std::string source_file;                 // empty for the zero-config default
    std::string data_dir = "./petrel-data";
    std::string hostname = "localhost";
    std::string run_as_user;                 // drop to this user after binding when root
    std::string log_level = "info";
    std::vector<Listener> listeners;
    Tls tls;
    Auth auth;
    Domains domains;
    smtp::Limits limits;
    unsigned max_connections = 10000;        // all listeners together
    unsigned max_connections_per_ip = 50;
    DeliveryMode delivery_mode = DeliveryMode::Sandbox;
    std::vector<std::string> dns_servers;    // "127.0.0.1:5353"; empty: /etc/resolv.conf
    std::string http_address = "127.0.0.1:8025";
    std::optional<uint16_t> testing_outbound_port;
    Queue queue;
};

// An error in a config file: "FILE:LINE: message" in what().
class ConfigError : public std::runtime_error {
public:
    ConfigError(std::string file, int line, const std::string& message);
    const std::string& file() const { return file_; }
    int line() const { return line_; }

private:
    std::string file_;
    int line_;
};

// The zero-config default of PRODUCT.md: mx 127.0.0.1:2525, submission 127.0.0.1:2587,
// submissions 127.0.0.1:2465, data in ./petrel-data, sandbox delivery, hostname from
// system_hostname().
Config default_config();

// Parses and validates `path`. Throws ConfigError naming the file and line.
Config load_config(const std::string& path);

const char* to_string(ListenerKind kind);
const char* to_string(DeliveryMode mode);

// The system host name (gethostname), or "localhost" when it has none usable.
std::string system_hostname();

}  // namespace petrel::config
