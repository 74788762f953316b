// config/config.cpp — the zero-config default, ConfigError and names of enums (config.h).
#include "config/config.h"

#include <unistd.h>

#include <climits>

namespace petrel::config {

ConfigError::ConfigError(std::string file, int line, const std::string& message)
    : std::runtime_error(line > 0 ? file + ":" + std::to_string(line) + ": " + message
                                  : file + ": " + message),
      file_(std::move(file)),
      line_(line) {}

std::string system_hostname() {
    char buf[HOST_NAME_MAX + 1] = {};
    if (gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
    std::string name(buf);
    // Only a plausible domain name is used in the greeting (RFC 5321 §4.1.3: a FQDN).
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.';
        if (!ok) return "localhost";
    }
    return name;
}

Config default_config() {
    Config c;
    c.hostname = system_hostname();
    c.listeners = {
        {ListenerKind::Mx, "127.0.0.1", 2525, "127.0.0.1:2525"},
        {ListenerKind::Submission, "127.0.0.1", 2587, "127.0.0.1:2587"},
        {ListenerKind::Submissions, "127.0.0.1", 2465, "127.0.0.1:2465"},
    };
    c.local.maildir_root = c.data_dir + "/mail";
    c.authentication.authserv_id = c.hostname;
    return c;
}

const char* to_string(ListenerKind kind) {
    switch (kind) {
        case ListenerKind::Mx: return "mx";
        case ListenerKind::Submission: return "submission";
        case ListenerKind::Submissions: return "submissions";
    }
    return "?";
}

const char* to_string(DeliveryMode mode) {
    switch (mode) {
        case DeliveryMode::Sandbox: return "sandbox";
        case DeliveryMode::Mx: return "mx";
        case DeliveryMode::Smarthost: return "smarthost";
    }
    return "?";
}

const char* to_string(DmarcAction action) {
    switch (action) {
        case DmarcAction::Reject: return "reject";
        case DmarcAction::Tag: return "tag";
        case DmarcAction::Off: return "off";
    }
    return "?";
}

}  // namespace petrel::config
