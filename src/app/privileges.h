// app/privileges.h — dropping root after the ports are bound (STYLE §14, least privilege).
//
// Started as root, petrel binds its listeners and opens its files, then becomes `run_as` (or
// "nobody" when none is configured, so it never serves a peer as root): data_dir is chowned to
// that user first (the daemon must keep writing its spool and store), then supplementary groups,
// gid and uid are set, and the drop is verified (setuid(0) must fail). Any failure throws
// std::runtime_error: petrel refuses to run as root half-dropped.
// Trust: the user name comes from the operator's config.
#pragma once

#include <string>

namespace petrel::app {

// The user to become, or empty when no drop is needed (not root). Throws when that user does
// not exist or is root.
std::string drop_target(const std::string& run_as);

// Chowns `data_dir` (recursively, not following symlinks) to `user` and switches to it.
void drop_privileges(const std::string& user, const std::string& data_dir);

}  // namespace petrel::app
