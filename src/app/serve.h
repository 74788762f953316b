// app/serve.h — `petrel serve`: wires config, logs, store, spool, TLS and the SMTP server,
// drops privileges and runs until SIGINT/SIGTERM (SIGHUP reloads the TLS certificate).
#pragma once

#include <string>

namespace petrel::app {

// Runs the daemon. `config_file` empty: the zero-config default. Returns the exit code:
// 0 after a clean stop, 1 on a configuration or start-up error (already printed).
int serve(const std::string& config_file);

}  // namespace petrel::app
