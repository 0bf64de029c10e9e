// Units. Every quantity in helix is a double in SI base units, and the unit is
// part of the variable's name:
//   *_Bps     bandwidth in BYTES per second   (never bits)
//   *_bytes   size in bytes
//   *_s       time in seconds
//   *_tps     throughput in tokens per second
// Text from users goes through the parsers below, which insist on an explicit,
// unambiguous unit: "1 Gbps" and "100 Mbit/s" are bits per second, "12.5 MB/s"
// and "1 GB/s" are bytes per second. A lower-case "mbps"/"gbps" is refused because
// the paper's files use it for bytes/s while everyone else means bits/s (the
// importer of the paper's files handles that convention itself).
#pragma once

#include <string>
#include <string_view>

namespace helix {

inline constexpr double kBitsPerByte = 8.0;

// "1 Gbps" -> 1.25e8 (bytes/s). Accepts bps Kbps Mbps Gbps Tbps, bit/s Kbit/s
// Mbit/s Gbit/s, B/s KB/s MB/s GB/s TB/s and KiB/s MiB/s GiB/s. Throws Error.
double parse_bandwidth_Bps(std::string_view text);
// "50 ms" -> 0.05. Accepts ns us ms s min. Throws Error.
double parse_duration_s(std::string_view text);
// "40 GB" -> 4e10. Accepts B KB MB GB TB KiB MiB GiB TiB. Throws Error.
double parse_size_bytes(std::string_view text);

// Human-readable forms, e.g. "1 Gbps", "12.5 MB/s" (bandwidth is printed in bits
// per second with a decimal prefix), "50 ms", "40 GB".
std::string format_bandwidth(double bytes_per_s);
std::string format_duration(double seconds);
std::string format_size(double bytes);

}  // namespace helix
