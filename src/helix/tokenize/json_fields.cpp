#include "helix/tokenize/json_fields.h"

#include <limits>

#include "helix/core/error.h"

namespace helix {

std::string json_path(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  return fmt::format("{}.{}", path, key);
}

std::string json_path(std::string_view path, std::size_t index) { return fmt::format("{}[{}]", path, index); }

void json_expect_object(const nlohmann::json& value, std::string_view path) {
  if (!value.is_object()) {
    fail("{}: expected an object, found {}", path.empty() ? "top level" : path, value.type_name());
  }
}

const nlohmann::json& json_member(const nlohmann::json& object, std::string_view key, std::string_view path) {
  json_expect_object(object, path);
  const auto it = object.find(key);
  if (it == object.end()) fail("{}: missing (required)", json_path(path, key));
  return *it;
}

const nlohmann::json* json_optional_member(const nlohmann::json& object, std::string_view key,
                                           std::string_view path) {
  json_expect_object(object, path);
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string json_string(const nlohmann::json& value, std::string_view path) {
  if (!value.is_string()) fail("{}: expected a string, found {}", path, value.type_name());
  return value.get<std::string>();
}

bool json_bool(const nlohmann::json& value, std::string_view path) {
  if (!value.is_boolean()) fail("{}: expected true or false, found {}", path, value.type_name());
  return value.get<bool>();
}

int json_int(const nlohmann::json& value, std::string_view path) {
  if (!value.is_number_integer()) fail("{}: expected an integer, found {}", path, value.type_name());
  const auto number = value.get<std::int64_t>();
  if (number < 0 || number > std::numeric_limits<int>::max()) {
    fail("{}: expected an integer in [0, {}], found {}", path, std::numeric_limits<int>::max(), number);
  }
  return static_cast<int>(number);
}

bool json_bool_or(const nlohmann::json& object, std::string_view key, std::string_view path, bool fallback) {
  const nlohmann::json* value = json_optional_member(object, key, path);
  return value == nullptr ? fallback : json_bool(*value, json_path(path, key));
}

}  // namespace helix
