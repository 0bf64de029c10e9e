// Typed reads of tokenizer.json / tokenizer_config.json fields whose errors name
// the field path ("model.merges[3]: expected a string, found number") so that a
// bad file is reported precisely. The caller prefixes the file name.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace helix {

// `path` + "." + `key` (or just `key` at the top level).
std::string json_path(std::string_view path, std::string_view key);
std::string json_path(std::string_view path, std::size_t index);

// The member `key` of `object` (which must be an object); throws if missing.
const nlohmann::json& json_member(const nlohmann::json& object, std::string_view key, std::string_view path);
// The member `key`, or nullptr when it is missing or null.
const nlohmann::json* json_optional_member(const nlohmann::json& object, std::string_view key,
                                           std::string_view path);

std::string json_string(const nlohmann::json& value, std::string_view path);
bool json_bool(const nlohmann::json& value, std::string_view path);
int json_int(const nlohmann::json& value, std::string_view path);  // a non-negative int
// An optional boolean member with a default.
bool json_bool_or(const nlohmann::json& object, std::string_view key, std::string_view path, bool fallback);
// Throws unless `value` is an object.
void json_expect_object(const nlohmann::json& value, std::string_view path);

}  // namespace helix
