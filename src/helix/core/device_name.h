// Where a stage of layers runs: "cpu" (the CPU engine) or "cuda:N" (the N-th GPU
// of the machine, the GPU engine where the build has it). The name is what a
// cluster file's node, a worker's --device and the coordinator's Assign carry; what
// a device is beyond its name is the engine's and the CLI's business.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace helix {

struct DeviceName {
  bool cuda = false;
  int index = 0;  // cuda:N
  std::string name() const { return cuda ? "cuda:" + std::to_string(index) : "cpu"; }
  bool operator==(const DeviceName&) const = default;
};

// "cpu" or "cuda:N" (N a whole number >= 0, no sign, no spaces); nullopt otherwise.
std::optional<DeviceName> parse_device_name(std::string_view text);

// What parse_device_name takes, for error messages.
inline constexpr const char* kDeviceNameForms = "cpu or cuda:N, N = 0, 1, ...";

}  // namespace helix
