#include "helix/sim/workload.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <string_view>
#include <system_error>

#include "helix/core/embedded_files.h"
#include "helix/core/error.h"
#include "helix/core/text_lines.h"

namespace helix::sim {
namespace {

// Generation refuses to build traces beyond this many queries (16 bytes each):
// a typo in a throughput must give an error, not exhaust memory. The paper's
// largest trace has 3,942 queries.
constexpr std::size_t kMaxTraceQueries = 20'000'000;
constexpr double kMaxBuckets = 1e8;

// ---------------------------------------------------------------------------
// CSV reading. The files are simple (no quoting); every error names
// "source:line" and, for a bad value, the column.

struct CsvRow {
  int line = 0;
  std::vector<std::string_view> fields;
};

struct Csv {
  std::string source;  // the file name shown in messages
  std::vector<std::string_view> columns;
  std::vector<CsvRow> rows;
};

// Keeps messages one readable line even when a "CSV" turns out to be binary.
std::string shown(std::string_view text) {
  constexpr std::size_t kMax = 60;
  if (text.size() <= kMax) return std::string(text);
  return std::string(text.substr(0, kMax)) + "...";
}

std::string join(const std::vector<std::string_view>& items, std::string_view separator) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += separator;
    out += items[i];
  }
  return out;
}

std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> fields;
  for (;;) {
    auto comma = line.find(',');
    fields.push_back(trim(line.substr(0, comma)));
    if (comma == std::string_view::npos) return fields;
    line.remove_prefix(comma + 1);
  }
}

void check_header(const Csv& csv, const CsvRow& header) {
  const auto& got = header.fields;
  const auto& want = csv.columns;
  std::string expected = join(want, ",");
  for (std::size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
    if (got[i] != want[i]) {
      fail("{}:{}: column {} is '{}', expected '{}' (the header must be '{}')", csv.source,
           header.line, i + 1, shown(got[i]), want[i], expected);
    }
  }
  if (got.size() < want.size()) {
    fail("{}:{}: missing column '{}' (the header must be '{}')", csv.source, header.line,
         want[got.size()], expected);
  }
  if (got.size() > want.size()) {
    fail("{}:{}: unexpected extra column '{}' (the header must be '{}')", csv.source, header.line,
         shown(got[want.size()]), expected);
  }
}

void check_field_count(const Csv& csv, const CsvRow& row) {
  const std::size_t want = csv.columns.size();
  if (row.fields.size() < want) {
    fail("{}:{}: missing field '{}' (expected {} fields: {})", csv.source, row.line,
         csv.columns[row.fields.size()], want, join(csv.columns, ","));
  }
  if (row.fields.size() > want) {
    fail("{}:{}: unexpected extra field '{}' (expected {} fields: {})", csv.source, row.line,
         shown(row.fields[want]), want, join(csv.columns, ","));
  }
}

// Splits `text` into the header and data rows; blank lines are skipped (files
// often end with one), CRLF line ends and a UTF-8 byte-order mark are accepted.
Csv read_csv(std::string_view text, std::string source, std::vector<std::string_view> columns) {
  Csv csv{std::move(source), std::move(columns), {}};
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  bool have_header = false;
  int line_no = 0;
  while (!text.empty()) {
    const std::string_view line = take_line(text);
    ++line_no;
    if (line.empty()) continue;
    CsvRow row{line_no, split_fields(line)};
    if (!have_header) {
      check_header(csv, row);
      have_header = true;
    } else {
      check_field_count(csv, row);
      csv.rows.push_back(std::move(row));
    }
  }
  if (!have_header) {
    fail("{}: empty file, expected the header '{}'", csv.source, join(csv.columns, ","));
  }
  return csv;
}

[[noreturn]] void bad_field(const Csv& csv, const CsvRow& row, std::size_t column,
                            const std::string& expected) {
  fail("{}:{}: {}: expected {}, got '{}'", csv.source, row.line, csv.columns[column], expected,
       shown(row.fields[column]));
}

long long integer_field(const Csv& csv, const CsvRow& row, std::size_t column, long long min,
                        long long max) {
  std::string_view text = row.fields[column];
  long long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  bool whole = ec == std::errc() && end == text.data() + text.size();
  if (ec == std::errc::result_out_of_range || (whole && value > max)) {
    bad_field(csv, row, column, fmt::format("an integer <= {}", max));
  }
  if (!whole || value < min) bad_field(csv, row, column, fmt::format("an integer >= {}", min));
  return value;
}

int length_field(const Csv& csv, const CsvRow& row, std::size_t column) {
  return static_cast<int>(integer_field(csv, row, column, 1, INT_MAX));
}

// A finite number >= min. from_chars reads Python's repr exactly (it rounds
// correctly), so reference arrival times keep every bit.
double number_field(const Csv& csv, const CsvRow& row, std::size_t column, double min) {
  std::string_view text = row.fields[column];
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value) ||
      value < min) {
    bad_field(csv, row, column, fmt::format("a finite number >= {}", min));
  }
  return value;
}

// The first column of the datasets is a row counter; a mismatch means rows were
// lost or duplicated, which would silently change the length distribution.
void check_index(const Csv& csv, const CsvRow& row, std::size_t expected) {
  long long index = integer_field(csv, row, 0, 0, LLONG_MAX);
  if (static_cast<std::size_t>(index) != expected) {
    fail("{}:{}: {}: expected {} (rows must be numbered 0, 1, 2, ...), got {}", csv.source,
         row.line, csv.columns[0], expected, index);
  }
}

void require_rows(const Csv& csv) {
  if (csv.rows.empty()) fail("{}: no data rows after the header", csv.source);
}

std::string read_text(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    fail("{}: is a directory, not a CSV file", path.string());
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open file", path.string());
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail("{}: read error", path.string());
  return text.str();
}

// ---------------------------------------------------------------------------
// Parsers shared by files on disk and the compiled-in copies.

LengthDataset parse_lengths(std::string_view text, std::string source, std::string name) {
  Csv csv = read_csv(text, std::move(source), {"index", "input_tokens", "output_tokens"});
  require_rows(csv);
  LengthDataset dataset;
  dataset.name = std::move(name);
  dataset.pairs.reserve(csv.rows.size());
  for (const CsvRow& row : csv.rows) {
    check_index(csv, row, dataset.pairs.size());
    dataset.pairs.push_back({length_field(csv, row, 1), length_field(csv, row, 2)});
  }
  return dataset;
}

// The bucket length is read from interval_start_s rather than assumed, so a
// pattern at another resolution works; uneven spacing is an error because the
// generator treats every bucket as the same length.
double bucket_length(const Csv& csv, const std::vector<double>& starts) {
  if (starts.size() < 2) return 3;
  double interval = starts[1] - starts[0];
  if (!(interval > 0)) {
    bad_field(csv, csv.rows[1], 1, fmt::format("a value > {} (the previous start)", starts[0]));
  }
  for (std::size_t i = 2; i < starts.size(); ++i) {
    double expected = starts[0] + interval * static_cast<double>(i);
    if (std::abs(starts[i] - expected) > 1e-9 * std::max(1.0, std::abs(expected))) {
      bad_field(csv, csv.rows[i], 1,
                fmt::format("{} (evenly spaced {} s intervals)", expected, interval));
    }
  }
  return interval;
}

ArrivalPattern parse_arrivals(std::string_view text, std::string source, std::string name) {
  Csv csv =
      read_csv(text, std::move(source), {"interval_index", "interval_start_s", "num_arrivals"});
  require_rows(csv);
  ArrivalPattern pattern;
  pattern.name = std::move(name);
  std::vector<double> starts;
  for (const CsvRow& row : csv.rows) {
    check_index(csv, row, starts.size());
    starts.push_back(number_field(csv, row, 1, 0));
    pattern.counts.push_back(number_field(csv, row, 2, 0));
  }
  pattern.interval_s = bucket_length(csv, starts);
  return pattern;
}

Trace parse_trace(std::string_view text, std::string source) {
  Csv csv = read_csv(text, std::move(source),
                     {"query_index", "arrival_time_s", "input_tokens", "output_tokens"});
  Trace trace;
  trace.queries.reserve(csv.rows.size());
  for (const CsvRow& row : csv.rows) {
    integer_field(csv, row, 0, 0, LLONG_MAX);
    QuerySpec q{number_field(csv, row, 1, 0), length_field(csv, row, 2), length_field(csv, row, 3)};
    if (!trace.queries.empty() && q.arrival_s < trace.queries.back().arrival_s) {
      fail("{}:{}: arrival_time_s: {} is before the previous arrival {} (times must not decrease)",
           csv.source, row.line, q.arrival_s, trace.queries.back().arrival_s);
    }
    trace.queries.push_back(q);
  }
  return trace;
}

// ---------------------------------------------------------------------------
// Built-in datasets.

struct Builtin {
  const char* name;
  const char* lengths;   // file in data/traces
  const char* arrivals;  // nullptr: no arrival pattern of that name
};

constexpr Builtin kBuiltins[] = {
    {"azure-conv", "length_azure_conv.csv", "arrival_azure_conv.csv"},
    {"azure-code", "length_azure_code.csv", "arrival_azure_code.csv"},
    {"alpaca", "length_alpaca.csv", nullptr},
    {"shared-gpt", "length_shared_gpt.csv", nullptr},
};

const char* builtin_file(const std::string& name, const char* Builtin::*file) {
  for (const Builtin& b : kBuiltins) {
    if (name == b.name && b.*file != nullptr) return b.*file;
  }
  return nullptr;
}

std::vector<std::string> builtin_names(const char* Builtin::*file) {
  std::vector<std::string> names;
  for (const Builtin& b : kBuiltins) {
    if (b.*file != nullptr) names.emplace_back(b.name);
  }
  return names;
}

std::string_view embedded_trace(const std::string& file) {
  const auto& files = embedded::trace_files();
  auto it = files.find(file);
  if (it == files.end()) fail("built-in trace file '{}' is missing from this build", file);
  return it->second;
}

void require_file(const std::string& name_or_path, const char* what,
                  const std::vector<std::string>& builtins) {
  std::error_code ec;
  if (std::filesystem::exists(name_or_path, ec)) return;
  std::vector<std::string_view> names(builtins.begin(), builtins.end());
  fail("unknown {} '{}': not a built-in name ({}) and no such file", what, name_or_path,
       join(names, ", "));
}

// ---------------------------------------------------------------------------
// Generation helpers.

void require_positive(double value, const char* what) {
  if (!std::isfinite(value) || value <= 0) {
    fail("{} must be a finite number > 0, got {}", what, value);
  }
}

void require_start(double start_s) {
  if (!std::isfinite(start_s) || start_s < 0) {
    fail("trace start time must be a finite number >= 0, got {}", start_s);
  }
}

// Python 3's round(): halves go to the even neighbour (round(2.5) == 2). Done
// by hand so the result does not depend on the floating-point rounding mode.
double round_half_even(double x) {
  double r = std::floor(x);
  double fraction = x - r;  // exact for every finite double
  if (fraction > 0.5 || (fraction == 0.5 && std::fmod(r, 2.0) != 0.0)) r += 1;
  return r;
}

// scaled[i] = count[i] * interval * rate / mean(count), left to right, as
// spec §9.3 writes it. Other association orders change the last bit of a few
// hundred of the 1,200 values, yet every order tried ((c*i*r)/m, c*((i*r)/m),
// (c/m)*i*r, c*(i*r)/m, (c*r*i)/m, (c/m)*r*i) gives all 27 reference traces bit
// for bit: no rounded count flips. The reference cannot tell them apart.
std::vector<double> rescaled_counts(const ArrivalPattern& pattern, double rate) {
  double mean = pattern.mean_count();
  if (pattern.counts.empty() || !(mean > 0)) {
    fail("arrival pattern '{}' has no arrivals to rescale", pattern.name);
  }
  std::vector<double> scaled;
  scaled.reserve(pattern.counts.size());
  for (double count : pattern.counts) {
    // Loaded patterns are checked already; this guards patterns built in code.
    if (!std::isfinite(count) || count < 0) {
      fail("arrival pattern '{}': count {} is not a finite number >= 0", pattern.name, count);
    }
    scaled.push_back(count * pattern.interval_s * rate / mean);
  }
  return scaled;
}

// Upstream uses duration / 3 buckets (600 for 1800 s). The tiny slack keeps a
// duration that is a decimal multiple of the interval (0.6 / 0.2) from losing
// its last bucket to binary rounding.
long long bucket_count(double duration_s, double interval_s) {
  require_positive(interval_s, "arrival pattern interval_s");
  double buckets = std::floor(duration_s / interval_s * (1 + 1e-12));
  if (buckets < 1) {
    fail("trace duration {} s is shorter than one arrival interval ({} s)", duration_s, interval_s);
  }
  if (buckets > kMaxBuckets) {
    fail("trace duration {} s has too many {} s intervals", duration_s, interval_s);
  }
  return static_cast<long long>(buckets);
}

// Written to fail on NaN too, before a count is converted to an integer.
void check_size(std::size_t have, double more) {
  if (!(static_cast<double>(have) + more <= static_cast<double>(kMaxTraceQueries))) {
    fail("the trace would exceed {} queries; lower the throughput or the duration",
         kMaxTraceQueries);
  }
}

double request_rate(const LengthDataset& dataset, double avg_throughput_tps) {
  if (dataset.pairs.empty()) fail("length dataset '{}' is empty", dataset.name);
  double mean = dataset.mean_total();
  // Only a dataset built in code (not loaded) can have zero-length queries.
  if (!(mean > 0)) fail("length dataset '{}' has no tokens per query", dataset.name);
  return avg_throughput_tps / mean;
}

// One bucket of the paper trace: n sorted arrival times, then n length draws,
// in that order on the shared stream (upstream draws all times first).
void add_bucket(Trace& trace, std::size_t n, double bucket_start, double interval_s,
                PythonRandom& rng, LengthSampler& lengths) {
  std::vector<double> times(n);
  for (double& t : times) t = bucket_start + interval_s * rng.random();
  std::sort(times.begin(), times.end());
  for (double t : times) {
    LengthPair pair = lengths.next();
    trace.queries.push_back({t, pair.input_tokens, pair.output_tokens});
  }
}

// std::uniform_real_distribution and std::exponential_distribution differ
// between standard libraries; these two draws are written out so a seed gives
// the same trace everywhere.
double canonical_53(std::mt19937_64& gen) {
  return static_cast<double>(gen() >> 11) * 0x1.0p-53;  // k / 2^53, k < 2^53
}

std::uint64_t uniform_below(std::mt19937_64& gen, std::uint64_t n) {
  // Values below 2^64 mod n are rejected so every residue is equally likely.
  const std::uint64_t threshold = (std::uint64_t{0} - n) % n;
  for (;;) {
    std::uint64_t x = gen();
    if (x >= threshold) return x % n;
  }
}

}  // namespace

// ---------------------------------------------------------------------------

// Python's sum() of ints is exact and int / int rounds once. The int64 sum is
// exact, converts to double exactly (far below 2^53), and one division rounds
// the same way, so the means equal upstream's bit for bit (azure-conv:
// mean_total() == 995.5277661043406, as Python prints it).
double LengthDataset::mean_input() const {
  if (pairs.empty()) return 0;
  long long sum = 0;
  for (const LengthPair& p : pairs) sum += p.input_tokens;
  return static_cast<double>(sum) / static_cast<double>(pairs.size());
}

double LengthDataset::mean_output() const {
  if (pairs.empty()) return 0;
  long long sum = 0;
  for (const LengthPair& p : pairs) sum += p.output_tokens;
  return static_cast<double>(sum) / static_cast<double>(pairs.size());
}

double LengthDataset::mean_total() const { return mean_input() + mean_output(); }

LengthDataset load_length_dataset(const std::filesystem::path& csv) {
  return parse_lengths(read_text(csv), csv.string(), csv.string());
}

LengthDataset length_dataset(const std::string& name_or_path) {
  if (const char* file = builtin_file(name_or_path, &Builtin::lengths)) {
    return parse_lengths(embedded_trace(file), file, name_or_path);
  }
  require_file(name_or_path, "length dataset", builtin_length_datasets());
  return load_length_dataset(name_or_path);
}

std::vector<std::string> builtin_length_datasets() { return builtin_names(&Builtin::lengths); }

LengthSampler::LengthSampler(const LengthDataset& dataset, PythonRandom& rng)
    : dataset_(&dataset), rng_(&rng) {
  if (dataset.pairs.empty()) fail("length dataset '{}' is empty", dataset.name);
  // PythonRandom::randbelow takes n < 2^32.
  if (dataset.pairs.size() > 0xffffffffULL) fail("length dataset '{}' is too large", dataset.name);
}

LengthPair LengthSampler::next() {
  // Upstream: randint(0, len - 1), which is _randbelow(len).
  auto i = static_cast<std::size_t>(rng_->randbelow(dataset_->pairs.size()));
  return dataset_->pairs[i];
}

double ArrivalPattern::mean_count() const {
  if (counts.empty()) return 0;
  double sum = 0;
  for (double c : counts) sum += c;  // integer counts: exact, as Python's sum
  return sum / static_cast<double>(counts.size());
}

ArrivalPattern load_arrival_pattern(const std::filesystem::path& csv) {
  return parse_arrivals(read_text(csv), csv.string(), csv.string());
}

ArrivalPattern arrival_pattern(const std::string& name_or_path) {
  if (const char* file = builtin_file(name_or_path, &Builtin::arrivals)) {
    return parse_arrivals(embedded_trace(file), file, name_or_path);
  }
  require_file(name_or_path, "arrival pattern", builtin_arrival_patterns());
  return load_arrival_pattern(name_or_path);
}

std::vector<std::string> builtin_arrival_patterns() { return builtin_names(&Builtin::arrivals); }

double Trace::offered_tps(double duration_s) const {
  require_positive(duration_s, "duration_s");
  long long tokens = 0;
  for (const QuerySpec& q : queries) tokens += q.input_tokens + q.output_tokens;
  return static_cast<double>(tokens) / duration_s;
}

Trace load_trace(const std::filesystem::path& csv) {
  return parse_trace(read_text(csv), csv.string());
}

void save_trace(const Trace& trace, const std::filesystem::path& csv) {
  std::string text = "query_index,arrival_time_s,input_tokens,output_tokens\n";
  for (std::size_t i = 0; i < trace.queries.size(); ++i) {
    const QuerySpec& q = trace.queries[i];
    // 17 significant digits always read back to the same double.
    text += fmt::format("{},{:.17g},{},{}\n", i, q.arrival_s, q.input_tokens, q.output_tokens);
  }
  std::ofstream out(csv, std::ios::binary | std::ios::trunc);
  if (!out) fail("{}: cannot open file for writing", csv.string());
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) fail("{}: write error", csv.string());
}

// Checked bit for bit against all 27 reference_traces/online_*.csv (seed 0,
// azure-conv lengths and pattern). Arrival times are
// (start + interval * j) + interval * random(), evaluated in that order.
Trace generate_paper_trace(const LengthDataset& dataset, const ArrivalPattern& pattern,
                           double avg_throughput_tps, double start_s, double duration_s,
                           std::uint64_t seed) {
  require_positive(avg_throughput_tps, "avg_throughput_tps");
  require_positive(duration_s, "duration_s");
  require_start(start_s);
  PythonRandom rng(seed);
  LengthSampler lengths(dataset, rng);
  std::vector<double> scaled = rescaled_counts(pattern, request_rate(dataset, avg_throughput_tps));
  long long buckets = bucket_count(duration_s, pattern.interval_s);
  Trace trace;
  double carry = 0;  // the rounding error carried to the next bucket
  for (long long j = 0; j < buckets; ++j) {
    double raw = scaled[static_cast<std::size_t>(rng.randbelow(scaled.size()))];
    double n = round_half_even(raw + carry);
    carry = raw + carry - n;
    check_size(trace.queries.size(), n);
    double bucket_start = start_s + pattern.interval_s * static_cast<double>(j);
    add_bucket(trace, static_cast<std::size_t>(n), bucket_start, pattern.interval_s, rng, lengths);
  }
  return trace;
}

Trace generate_poisson_trace(const LengthDataset& dataset, double avg_throughput_tps,
                             double start_s, double duration_s, std::uint64_t seed) {
  require_positive(avg_throughput_tps, "avg_throughput_tps");
  require_positive(duration_s, "duration_s");
  require_start(start_s);
  double rate = request_rate(dataset, avg_throughput_tps);
  // Twice the mean leaves room for the count's spread (its sd is sqrt(mean)).
  check_size(0, 2 * rate * duration_s);
  std::mt19937_64 gen(seed);
  const double end_s = start_s + duration_s;
  Trace trace;
  for (double t = start_s;;) {
    // Inverse CDF of the exponential gap; 1 - u is exact and > 0.
    t += -std::log(1.0 - canonical_53(gen)) / rate;
    if (!(t < end_s)) break;
    check_size(trace.queries.size(), 1);
    const LengthPair& pair =
        dataset.pairs[static_cast<std::size_t>(uniform_below(gen, dataset.pairs.size()))];
    trace.queries.push_back({t, pair.input_tokens, pair.output_tokens});
  }
  return trace;
}

}  // namespace helix::sim
