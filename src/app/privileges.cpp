// app/privileges.cpp — see privileges.h.
#include "app/privileges.h"

#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace petrel::app {

namespace {

uid_t g_uid;
gid_t g_gid;
int g_chown_errno;

int chown_entry(const char* path, const struct stat*, int, FTW*) {
    if (::lchown(path, g_uid, g_gid) != 0 && g_chown_errno == 0) g_chown_errno = errno;
    return 0;
}

std::string error_text(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace

std::string drop_target(const std::string& run_as) {
    if (::geteuid() != 0) return "";
    std::string user = run_as.empty() ? "nobody" : run_as;
    struct passwd* pw = ::getpwnam(user.c_str());
    if (!pw) throw std::runtime_error("run_as: no such user '" + user + "'");
    if (pw->pw_uid == 0) throw std::runtime_error("run_as: '" + user + "' is root; choose another user");
    return user;
}

void drop_privileges(const std::string& user, const std::string& data_dir) {
    errno = 0;
    struct passwd* pw = ::getpwnam(user.c_str());
    if (!pw) throw std::runtime_error("run_as: no such user '" + user + "'");
    if (pw->pw_uid == 0) throw std::runtime_error("run_as: '" + user + "' is root; choose another user");
    const uid_t uid = pw->pw_uid;
    const gid_t gid = pw->pw_gid;

    g_uid = uid;
    g_gid = gid;
    g_chown_errno = 0;
    if (::nftw(data_dir.c_str(), chown_entry, 16, FTW_PHYS) != 0) {
        throw std::runtime_error(error_text("cannot walk " + data_dir));
    }
    if (g_chown_errno != 0) {
        errno = g_chown_errno;
        throw std::runtime_error(error_text("cannot chown " + data_dir + " to " + user));
    }
    if (::setgroups(1, &gid) != 0) throw std::runtime_error(error_text("setgroups"));
    if (::setgid(gid) != 0) throw std::runtime_error(error_text("setgid"));
    if (::setuid(uid) != 0) throw std::runtime_error(error_text("setuid"));
    // The drop must be permanent: root cannot be regained.
    if (::setuid(0) == 0 || ::seteuid(0) == 0) throw std::runtime_error("could regain root after setuid");
    if (::getuid() != uid || ::geteuid() != uid || ::getgid() != gid || ::getegid() != gid) {
        throw std::runtime_error("privilege drop did not take effect");
    }
}

}  // namespace petrel::app
