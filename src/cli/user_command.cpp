// cli/user_command.cpp — see user_command.h.
#include "cli/user_command.h"
#include "cli/command_support.h"

#include <CLI/CLI.hpp>
#include <sodium.h>
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "base/escape.h"
#include "store/credentials.h"

namespace petrel::cli {

namespace {

// What the parsed command line says, shared by the subcommands' callbacks.
struct UserArgs {
    std::function<config::Config()> load_config;
    std::string config_file;
    std::string name;
    bool json = false;
};

// A string that is wiped when it goes away: it holds a password.
struct Secret {
    std::string value;
    ~Secret() {
        if (!value.empty()) sodium_memzero(value.data(), value.size());
    }
};

// Echo off on the terminal for as long as this lives.
class NoEcho {
public:
    NoEcho() {
        if (tcgetattr(STDIN_FILENO, &saved_) == 0) {
            termios quiet = saved_;
            quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
            quiet.c_lflag |= ECHONL;
            active_ = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
        }
    }
    ~NoEcho() {
        if (active_) tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
    }
    NoEcho(const NoEcho&) = delete;
    NoEcho& operator=(const NoEcho&) = delete;

private:
    termios saved_{};
    bool active_ = false;
};

void strip_line_end(std::string& s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
}

// Call with echo already off, so that nothing typed after the prompt appears can be echoed or
// flushed away.
std::string prompt_hidden(const std::string& prompt) {
    std::cerr << prompt << std::flush;
    std::string line;
    std::getline(std::cin, line);
    strip_line_end(line);
    return line;
}

// PRODUCT.md: a command that needs a secret reads it from standard input when that is not a
// terminal; on a terminal it asks twice, without echo.
void read_password(const std::string& name, Secret& out) {
    if (!isatty(STDIN_FILENO)) {
        std::getline(std::cin, out.value);
        strip_line_end(out.value);
    } else {
        NoEcho no_echo;
        out.value = prompt_hidden("Password for " + name + ": ");
        Secret again{prompt_hidden("Retype password: ")};
        if (out.value != again.value) fail("passwords do not match");
    }
    if (out.value.empty()) fail("empty password");
    if (!store::is_valid_password(out.value)) {
        fail("invalid password: at most 1024 bytes, no NUL byte");
    }
}

void check_name(const std::string& name) {
    if (!store::is_valid_user_name(name)) {
        fail("invalid user name '" + base::escape_for_log(name, 140) +
             "': 1 to 128 printable ASCII characters, no space");
    }
}

config::Config load(const UserArgs& args) {
    return load_command_config(args.config_file, args.load_config);
}

std::unique_ptr<store::Credentials> open_store(const UserArgs& args) {
    config::Config cfg = load(args);
    std::error_code ec;
    std::filesystem::create_directories(cfg.data_dir, ec);
    if (ec) fail("cannot create data directory " + cfg.data_dir + ": " + ec.message());
    try {
        return store::open_sqlite_credentials(store::sqlite_store_path(cfg.data_dir));
    } catch (const std::exception& e) {
        fail(e.what());
    }
}

bool user_exists(store::Credentials& creds, const std::string& name) {
    for (const auto& u : creds.list_users()) {
        if (u.name == name) return true;
    }
    return false;
}

void report(store::StoreStatus status, const std::string& name, const std::string& done) {
    switch (status) {
        case store::StoreStatus::Ok:
            std::cout << done << std::endl;
            return;
        case store::StoreStatus::AlreadyExists:
            fail("user " + name + " already exists");
        case store::StoreStatus::NotFound:
            fail("no such user: " + name);
        case store::StoreStatus::InvalidInput:
            fail("invalid user name or password");
        case store::StoreStatus::Unavailable:
            break;
    }
    fail("the credentials store is unavailable");
}

void run_add(const UserArgs& args) {
    check_name(args.name);
    auto creds = open_store(args);
    if (user_exists(*creds, args.name)) fail("user " + args.name + " already exists");
    Secret password;
    read_password(args.name, password);
    report(creds->add_user(args.name, password.value), args.name,
           "user " + args.name + " added");
}

void run_passwd(const UserArgs& args) {
    check_name(args.name);
    auto creds = open_store(args);
    if (!user_exists(*creds, args.name)) fail("no such user: " + args.name);
    Secret password;
    read_password(args.name, password);
    report(creds->set_password(args.name, password.value), args.name,
           "password of user " + args.name + " changed");
}

void run_remove(const UserArgs& args) {
    if (!store::is_valid_user_name(args.name)) {
        fail("no such user: " + base::escape_for_log(args.name, 140));
    }
    auto creds = open_store(args);
    report(creds->remove_user(args.name), args.name, "user " + args.name + " removed");
}

// Names and dates are printable ASCII (store rules), so only '"' and '\' need escaping; control
// bytes are escaped anyway in case a future backend is less strict.
std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

void run_list(const UserArgs& args) {
    auto creds = open_store(args);
    auto users = creds->list_users();
    if (args.json) {
        std::cout << "[";
        for (size_t i = 0; i < users.size(); ++i) {
            std::cout << (i ? "," : "") << "{\"name\":" << json_string(users[i].name)
                      << ",\"created\":" << json_string(users[i].created) << "}";
        }
        std::cout << "]" << std::endl;
        return;
    }
    for (const auto& u : users) std::cout << u.name << "\t" << u.created << "\n";
    std::cout << std::flush;
}

}  // namespace

void add_user_command(CLI::App& parent, std::function<config::Config()> load_config) {
    auto args = std::make_shared<UserArgs>();
    args->load_config = std::move(load_config);

    CLI::App* user = parent.add_subcommand("user", "manage SMTP AUTH users");
    user->require_subcommand(1);
    add_config_option(*user, args->config_file);

    CLI::App* add = user->add_subcommand("add", "add a user; the password is read from stdin");
    add->add_option("NAME", args->name, "user name, e.g. app1@example.test")->required();
    add_config_option(*add, args->config_file);
    add->callback([args] { run_add(*args); });

    CLI::App* passwd = user->add_subcommand("passwd", "change a user's password");
    passwd->add_option("NAME", args->name, "user name")->required();
    add_config_option(*passwd, args->config_file);
    passwd->callback([args] { run_passwd(*args); });

    CLI::App* remove = user->add_subcommand("remove", "remove a user");
    remove->add_option("NAME", args->name, "user name")->required();
    add_config_option(*remove, args->config_file);
    remove->callback([args] { run_remove(*args); });

    CLI::App* list = user->add_subcommand("list", "list users and when they were created");
    list->add_flag("--json", args->json, "print a JSON array of {name, created}");
    add_config_option(*list, args->config_file);
    list->callback([args] { run_list(*args); });
}

}  // namespace petrel::cli
