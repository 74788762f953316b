// store/credentials.cpp — backend-independent rules of store/credentials.h.
#include "store/credentials.h"

namespace petrel::store {

bool is_valid_user_name(std::string_view name) {
    if (name.empty() || name.size() > 128) return false;
    for (unsigned char c : name) {
        if (c < 0x21 || c > 0x7e) return false;  // printable ASCII, no space, no DEL
    }
    return true;
}

bool is_valid_password(std::string_view password) {
    if (password.empty() || password.size() > 1024) return false;
    return password.find('\0') == std::string_view::npos;
}

std::string sqlite_store_path(const std::string& data_dir) {
    if (data_dir.empty()) return "store.sqlite";
    if (data_dir.back() == '/') return data_dir + "store.sqlite";
    return data_dir + "/store.sqlite";
}

}  // namespace petrel::store
