// cli/command_support.cpp — see command_support.h.
#include "cli/command_support.h"

#include <iostream>

namespace petrel::cli {

void fail(const std::string& message, int code) {
    std::cerr << "petrel: " << message << std::endl;
    throw CLI::RuntimeError(code);
}

config::Config load_command_config(const std::string& config_file,
                                   const std::function<config::Config()>& fallback,
                                   int error_code) {
    try {
        if (!config_file.empty()) return config::load_config(config_file);
        if (fallback) return fallback();
        return config::default_config();
    } catch (const CLI::Error&) {
        throw;
    } catch (const std::exception& e) {
        fail(e.what(), error_code);
    }
}

void add_config_option(CLI::App& app, std::string& config_file) {
    app.add_option("--config", config_file, "configuration file (TOML)");
}

}  // namespace petrel::cli
