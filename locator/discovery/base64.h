// Base64 (RFC 4648, standard alphabet, with '=' padding), as etcd's JSON gateway carries keys
// and values. OpenSSL does the work (EVP_EncodeBlock, EVP_DecodeBlock).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace thrifty::discovery {

std::string Base64Encode(std::string_view bytes);

// The bytes of `text`, or nullopt if it is not padded base64 (length a multiple of 4, only the
// alphabet, at most two '=' at the end).
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace thrifty::discovery
