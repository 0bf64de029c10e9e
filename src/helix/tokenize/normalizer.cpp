#include "helix/tokenize/normalizer.h"

#include "helix/core/error.h"
#include "helix/tokenize/json_fields.h"
#include "helix/tokenize/unicode_nfc.h"

namespace helix {
namespace {

// Adds the effect of one normalizer config to `nfc`.
void read_normalizer(const nlohmann::json& config, std::string_view path, bool& nfc) {
  const std::string type_path = json_path(path, "type");
  const std::string type = json_string(json_member(config, "type", path), type_path);
  if (type == "NFC") {
    nfc = true;
  } else if (type == "Sequence") {
    const std::string list_path = json_path(path, "normalizers");
    const nlohmann::json& list = json_member(config, "normalizers", path);
    if (!list.is_array()) fail("{}: expected an array, found {}", list_path, list.type_name());
    for (std::size_t i = 0; i < list.size(); ++i) read_normalizer(list[i], json_path(list_path, i), nfc);
  } else {
    fail("{}: normalizer \"{}\" is not supported (supported: null, NFC, Sequence of NFC)", type_path, type);
  }
}

}  // namespace

Normalizer Normalizer::from_json(const nlohmann::json& config, std::string_view path) {
  Normalizer result;
  if (!config.is_null()) read_normalizer(config, path, result.nfc_);
  return result;
}

std::string Normalizer::apply(std::string_view text) const {
  if (!nfc_) return std::string(text);
  return to_nfc(text);
}

}  // namespace helix
