#include "helix/core/units.h"

#include <array>
#include <charconv>
#include <cmath>
#include <utility>

#include "helix/core/error.h"

namespace helix {
namespace {

struct UnitFactor {
  std::string_view name;
  double factor;
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits "12.5 MB/s" into 12.5 and "MB/s"; the unit may follow without a space.
std::pair<double, std::string_view> split_number(std::string_view text, std::string_view what) {
  std::string_view s = trim(text);
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end == s.data()) {
    fail("'{}' is not a {}: expected a number followed by a unit", text, what);
  }
  if (!std::isfinite(value)) fail("'{}' is not a finite {}", text, what);
  std::string_view unit = trim(s.substr(static_cast<std::size_t>(end - s.data())));
  return {value, unit};
}

template <std::size_t N>
double parse_with_units(std::string_view text, std::string_view what,
                        const std::array<UnitFactor, N>& units, std::string_view accepted) {
  auto [value, unit] = split_number(text, what);
  if (unit.empty()) fail("'{}' has no unit: a {} needs one of {}", text, what, accepted);
  for (const auto& u : units) {
    if (u.name == unit) {
      if (value < 0) fail("'{}' is negative: a {} must be >= 0", text, what);
      return value * u.factor;
    }
  }
  fail("'{}' has an unknown unit '{}': a {} needs one of {}", text, unit, what, accepted);
}

constexpr std::array<UnitFactor, 19> kBandwidthUnits{{
    {"bps", 1.0 / kBitsPerByte},          {"Kbps", 1e3 / kBitsPerByte},
    {"Mbps", 1e6 / kBitsPerByte},         {"Gbps", 1e9 / kBitsPerByte},
    {"Tbps", 1e12 / kBitsPerByte},        {"bit/s", 1.0 / kBitsPerByte},
    {"Kbit/s", 1e3 / kBitsPerByte},       {"Mbit/s", 1e6 / kBitsPerByte},
    {"Gbit/s", 1e9 / kBitsPerByte},       {"Tbit/s", 1e12 / kBitsPerByte},
    {"B/s", 1.0},                         {"KB/s", 1e3},
    {"MB/s", 1e6},                        {"GB/s", 1e9},
    {"TB/s", 1e12},                       {"KiB/s", 1024.0},
    {"MiB/s", 1024.0 * 1024},             {"GiB/s", 1024.0 * 1024 * 1024},
    {"kB/s", 1e3},
}};

constexpr std::array<UnitFactor, 6> kDurationUnits{{
    {"ns", 1e-9}, {"us", 1e-6}, {"ms", 1e-3}, {"s", 1.0}, {"min", 60.0}, {"sec", 1.0},
}};

constexpr std::array<UnitFactor, 10> kSizeUnits{{
    {"B", 1.0},
    {"KB", 1e3},
    {"MB", 1e6},
    {"GB", 1e9},
    {"TB", 1e12},
    {"KiB", 1024.0},
    {"MiB", 1024.0 * 1024},
    {"GiB", 1024.0 * 1024 * 1024},
    {"TiB", 1024.0 * 1024 * 1024 * 1024},
    {"kB", 1e3},
}};

std::string trim_zeros(std::string s) {
  if (s.find('.') == std::string::npos) return s;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string number(double v) { return trim_zeros(fmt::format("{:.3f}", v)); }

}  // namespace

double parse_bandwidth_Bps(std::string_view text) {
  auto [value, unit] = split_number(text, "bandwidth");
  if (unit == "mbps" || unit == "gbps" || unit == "kbps" || unit == "tbps") {
    fail("'{}' uses the ambiguous unit '{}': write '{}bps' for bits per second or '{}B/s' for "
         "bytes per second",
         text, unit, static_cast<char>(unit[0] - 'a' + 'A'), static_cast<char>(unit[0] - 'a' + 'A'));
  }
  return parse_with_units(text, "bandwidth", kBandwidthUnits,
                          "Mbps/Gbps (bits per second) or MB/s/GB/s (bytes per second)");
}

double parse_duration_s(std::string_view text) {
  return parse_with_units(text, "duration", kDurationUnits, "ns, us, ms, s or min");
}

double parse_size_bytes(std::string_view text) {
  return parse_with_units(text, "size", kSizeUnits, "B, KB, MB, GB, TB, KiB, MiB, GiB or TiB");
}

std::string format_bandwidth(double bytes_per_s) {
  double bits = bytes_per_s * kBitsPerByte;
  if (bits >= 1e12) return number(bits / 1e12) + " Tbps";
  if (bits >= 1e9) return number(bits / 1e9) + " Gbps";
  if (bits >= 1e6) return number(bits / 1e6) + " Mbps";
  if (bits >= 1e3) return number(bits / 1e3) + " Kbps";
  return number(bits) + " bps";
}

std::string format_duration(double seconds) {
  if (seconds >= 60) return number(seconds / 60) + " min";
  if (seconds >= 1) return number(seconds) + " s";
  if (seconds >= 1e-3) return number(seconds * 1e3) + " ms";
  if (seconds >= 1e-6) return number(seconds * 1e6) + " us";
  return number(seconds * 1e9) + " ns";
}

std::string format_size(double bytes) {
  if (bytes >= 1e12) return number(bytes / 1e12) + " TB";
  if (bytes >= 1e9) return number(bytes / 1e9) + " GB";
  if (bytes >= 1e6) return number(bytes / 1e6) + " MB";
  if (bytes >= 1e3) return number(bytes / 1e3) + " KB";
  return number(bytes) + " B";
}

}  // namespace helix
