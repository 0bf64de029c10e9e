#include "helix/core/device_name.h"

#include <charconv>

namespace helix {

std::optional<DeviceName> parse_device_name(std::string_view text) {
  if (text == "cpu") return DeviceName{};
  constexpr std::string_view prefix = "cuda:";
  if (!text.starts_with(prefix) || text.size() == prefix.size()) return std::nullopt;
  int index = -1;
  const char* first = text.data() + prefix.size();
  const char* last = text.data() + text.size();
  const auto [end, ec] = std::from_chars(first, last, index);
  if (ec != std::errc() || end != last || index < 0) return std::nullopt;
  return DeviceName{true, index};
}

}  // namespace helix
