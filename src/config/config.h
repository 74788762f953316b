// config/config.h — the validated, immutable configuration snapshot.
//
// Loaded from one TOML file (config/load.cpp) or built as the zero-config default
// (PRODUCT.md). Every key and default is documented in docs/configuration.md; keep them in step.
// Trust: the file is the operator's, but it is still validated fully; errors name file and line.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
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

// The resolver (dns/, docs/configuration.md [dns]).
struct Dns {
    // "ip:port" (IPv6 "[ip]:port"); empty: the nameservers of /etc/resolv.conf. Also a test
    // seam (STYLE §12): tests point petrel at a DNS server on loopback.
    std::vector<std::string> servers;
    std::chrono::milliseconds timeout{2000};  // per try; c-ares doubles it each round
    unsigned attempts = 2;                    // rounds over the servers
    size_t cache_entries = 10000;             // answers kept (LRU); 0: no cache
};

// Local delivery (delivery/maildir.h, policy/local_recipients.h, docs/delivery.md).
struct Local {
    std::string maildir_root;                // "": <data_dir>/mail (resolved by load/default)
    std::vector<std::string> users;          // mailbox names (mail::mailbox_name form)
    std::vector<std::pair<std::string, std::string>> aliases;  // local part -> user, in file order
    bool use_store_users = false;            // store credentials names are local users too
};

// Outbound delivery (delivery/, docs/delivery.md; keys in docs/configuration.md [delivery]).
enum class TlsPolicy { None, Opportunistic, Required };  // Required: STARTTLS + verified cert

// Limits and TLS for one destination (a recipient domain). `domains` empty: the default.
struct DestinationPolicy {
    std::vector<std::string> domains;   // normalized
    unsigned max_connections = 10;      // concurrent connections to the destination
    unsigned messages_per_connection = 100;
    unsigned messages_per_minute = 0;   // 0: no limit
    TlsPolicy tls = TlsPolicy::Opportunistic;
    std::string ca_file;                // tls = required: PEM CAs instead of the system store
};

enum class SmarthostTls { None, StartTls, Implicit };

struct Smarthost {
    std::string host;                   // name or address, no brackets
    uint16_t port = 25;
    SmarthostTls tls = SmarthostTls::StartTls;
    bool tls_verify = true;             // check the relay's certificate (system CA or ca_file)
    std::string ca_file;
    std::string username;               // empty: no AUTH
    std::string password;               // from `password` or `password_file`; never logged
};

// Mail for `domains` goes to `smarthost` whatever the mode.
struct Route {
    std::vector<std::string> domains;
    Smarthost smarthost;
};

struct Delivery {
    bool paused = false;  // queue but deliver nothing (maintenance; also the integration tests' default)
    std::vector<std::chrono::seconds> retry_schedule;  // explicit delays; empty: exponential
    std::chrono::seconds first_retry{300};
    std::chrono::seconds max_retry{3600};
    std::chrono::seconds max_queue_lifetime{5 * 86400};
    std::chrono::seconds bounce_lifetime{2 * 86400};
    std::chrono::seconds delay_warning{4 * 3600};  // NOTIFY=DELAY report after this; 0: never
    std::chrono::seconds idle_timeout{5};          // an unused outbound connection is closed
    std::chrono::seconds connect_timeout{30};
    std::chrono::seconds destination_backoff{60};  // first pause of a destination after 421 / repeated 4xx
    DestinationPolicy defaults;
    std::vector<DestinationPolicy> destinations;   // per-domain overrides
    std::optional<Smarthost> smarthost;            // mode = smarthost
    std::vector<Route> routes;
};

// DKIM signing of outbound mail (mailauth/dkim/, docs/dkim.md). Keys made by `petrel dkim
// keygen` under data_dir/dkim/<domain>/ are used without further configuration; this section
// can change how, or turn signing off for all or some domains.
struct DkimDomain {
    std::string domain;                   // normalized
    bool enabled = true;
    std::vector<std::string> selectors;   // empty: every key found for the domain
    std::string canonicalization;         // empty: [dkim] canonicalization
};
struct Dkim {
    bool enabled = true;
    std::string canonicalization = "relaxed/relaxed";  // header/body: relaxed or simple
    std::vector<std::string> headers;     // fields to sign; empty: the built-in list
    std::vector<std::string> oversign;    // signed once more than present; empty: built-in
    std::chrono::seconds expiration{0};   // x= = t= + this; 0: no x=
    std::vector<DkimDomain> domains;      // [[dkim.domain]]
};

// Inbound checks on the mx listener: SPF, DKIM, DMARC, ARC and the Authentication-Results
// header (mailauth/inbound_check.h, docs/authentication-results.md). Submission listeners are
// never checked (their users authenticated).
enum class DmarcAction { Reject, Tag, Off };  // what a DMARC failure under p=reject gets
struct Authentication {
    bool enabled = true;
    std::string authserv_id;  // RFC 8601 §2.5; load/default set it to `hostname` when not given
    DmarcAction dmarc_reject = DmarcAction::Reject;  // reject: 550 5.7.1 at end of DATA
    bool dmarc_quarantine_tag = false;  // dmarc_quarantine = "tag": X-Petrel-Quarantine header
    // ARC sealing (RFC 8617 §5.1, docs/arc.md) of mail received on mx and relayed onward: the
    // key is the DKIM key store's <data_dir>/dkim/<arc_seal_domain>/<arc_seal_selector>.*.pem.
    bool arc_seal = false;
    std::string arc_seal_domain;    // required when arc_seal; normalized
    std::string arc_seal_selector;  // required when arc_seal
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
    Delivery delivery;
    Dns dns;
    std::string http_address = "127.0.0.1:8025";
    std::optional<uint16_t> testing_outbound_port;
    Queue queue;
    Local local;
    Dkim dkim;
    Authentication authentication;
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
const char* to_string(DmarcAction action);  // "reject", "tag", "off"

// The system host name (gethostname), or "localhost" when it has none usable.
std::string system_hostname();

}  // namespace petrel::config
