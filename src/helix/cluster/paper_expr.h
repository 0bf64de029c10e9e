// Values of the paper's .ini files. Upstream reads them with Python's eval() with
// the unit constants of simulator/event_simulator/utils.py in scope (planner spec
// §0.1), so a value is a Python literal or a small expression:
//   10 * gbps      1000.0 * mbps     1 * MilliSec     16 * GB     -1     853088
//   [0, 1, 'source']     'T4'    "L4x2"    source
// Only what the published files use is accepted: numbers, the constants below,
// '*', '/', unary '-', lists, and quoted or bare strings.
//
// The constants keep the PAPER'S convention, which differs from the rest of helix:
// "mbps" is 1e6 BYTES per second (no bit/byte factor anywhere upstream), so
// "1000 * mbps" is 1e9 B/s. kbps=1e3, mbps=1e6, gbps=1e9, Byte=1, KB=1e3, MB=1e6,
// GB=1e9, Sec=1, MilliSec=1e-3. These functions throw Error with a short message;
// the importer adds the file:line and key.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace helix {

// "10 * gbps" -> 1e10, "-1" -> -1.
double paper_number(std::string_view text);
// A number that must be a whole number, e.g. "24".
long long paper_integer(std::string_view text);
// "'T4'", "\"T4\"" or "T4" -> "T4".
std::string paper_string(std::string_view text);
// "[0, 1, 'source']" -> {"0", "1", "source"}: the items as text, quotes removed.
std::vector<std::string> paper_list(std::string_view text);

}  // namespace helix
