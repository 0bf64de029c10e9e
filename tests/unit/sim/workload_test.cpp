#include "helix/sim/workload.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <set>

#include "helix/core/error.h"
#include "support/test_support.h"

namespace helix::sim {
namespace {

namespace fs = std::filesystem;

fs::path reference_traces() { return test::shared_data() / "reference_traces"; }

// The message of the Error `body` throws ("" if it throws none).
template <typename F>
std::string error_of(F&& body) {
  try {
    body();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// Expects `statement` to throw an Error whose message contains `part`.
#define EXPECT_ERROR(statement, part)                                                     \
  do {                                                                                    \
    std::string message_ = error_of([&] { statement; });                                  \
    EXPECT_NE(message_.find(part), std::string::npos) << "message: '" << message_ << "'"; \
  } while (false)

TEST(LengthDataset, BuiltinsHaveTheArtifactSizesAndMeans) {
  struct Expected {
    const char* name;
    std::size_t size;
    double mean_input;
    double mean_output;
  };
  // Sizes and means from the artifact's README.
  for (const Expected& e :
       {Expected{"azure-conv", 16657, 763.08, 232.45}, Expected{"azure-code", 7574, 1379.06, 27.52},
        Expected{"alpaca", 47379, 13.91, 48.34}, Expected{"shared-gpt", 82814, 74.12, 228.59}}) {
    SCOPED_TRACE(e.name);
    LengthDataset d = length_dataset(e.name);
    EXPECT_EQ(d.name, e.name);
    EXPECT_EQ(d.pairs.size(), e.size);
    EXPECT_NEAR(d.mean_input(), e.mean_input, 0.005);
    EXPECT_NEAR(d.mean_output(), e.mean_output, 0.005);
  }
  EXPECT_EQ(builtin_length_datasets(),
            (std::vector<std::string>{"azure-conv", "azure-code", "alpaca", "shared-gpt"}));
}

TEST(LengthDataset, MeanTotalIsPythonsSumOverCount) {
  // Python: sum(inputs) / len + sum(outputs) / len for the azure-conv list.
  EXPECT_EQ(length_dataset("azure-conv").mean_total(), 995.5277661043406);
  EXPECT_EQ(LengthDataset{}.mean_total(), 0);
}

TEST(LengthDataset, BuiltinEqualsTheSharedArtifactFile) {
  LengthDataset builtin = length_dataset("azure-conv");
  LengthDataset file = load_length_dataset(test::shared_data() / "traces/length_azure_conv.csv");
  EXPECT_EQ(builtin.pairs, file.pairs);
  // A path given where a name is expected is loaded as a file.
  fs::path path = test::shared_data() / "traces/length_alpaca.csv";
  EXPECT_EQ(length_dataset(path.string()).pairs, length_dataset("alpaca").pairs);
}

TEST(LengthDataset, UnknownNameListsTheBuiltins) {
  std::string message = error_of([] { length_dataset("azure-chat"); });
  EXPECT_NE(message.find("'azure-chat'"), std::string::npos) << message;
  EXPECT_NE(message.find("azure-conv, azure-code, alpaca, shared-gpt"), std::string::npos)
      << message;
}

TEST(LengthDataset, AcceptsCrlfAndBlankLines) {
  test::TempDir dir;
  fs::path csv =
      dir.write("l.csv", "index,input_tokens,output_tokens\r\n0,5,7\r\n\r\n1, 8 ,9\r\n\n");
  LengthDataset d = load_length_dataset(csv);
  EXPECT_EQ(d.pairs, (std::vector<LengthPair>{{5, 7}, {8, 9}}));
  EXPECT_EQ(d.mean_input(), 6.5);
  EXPECT_EQ(d.mean_total(), 14.5);
}

struct BadFile {
  const char* content;
  std::vector<const char*> expected;  // substrings of the message
};

void expect_errors(const std::vector<BadFile>& cases, void (*load)(const fs::path&)) {
  test::TempDir dir;
  for (const BadFile& c : cases) {
    SCOPED_TRACE(c.content);
    fs::path path = dir.write("bad.csv", c.content);
    std::string message = error_of([&] { load(path); });
    ASSERT_FALSE(message.empty()) << "no error";
    EXPECT_NE(message.find("bad.csv"), std::string::npos) << message;
    for (const char* part : c.expected) EXPECT_NE(message.find(part), std::string::npos) << message;
  }
}

TEST(LengthDataset, BadFilesNameTheLineAndColumn) {
  const char* h = "index,input_tokens,output_tokens\n";
  std::string bad_value = std::string(h) + "0,1,2\n1,3,4\n2,x,5\n";
  std::string zero = std::string(h) + "0,0,2\n";
  std::string negative = std::string(h) + "0,1,-3\n";
  std::string fraction = std::string(h) + "0,1.5,3\n";
  std::string huge = std::string(h) + "0,99999999999,3\n";
  std::string skipped = std::string(h) + "0,1,2\n2,3,4\n";
  std::string short_row = std::string(h) + "0,1\n";
  std::string long_row = std::string(h) + "0,1,2,3\n";
  std::string empty_field = std::string(h) + "0,,2\n";
  expect_errors(
      {
          {bad_value.c_str(), {"bad.csv:4:", "input_tokens", "expected an integer >= 1", "'x'"}},
          {zero.c_str(), {":2:", "input_tokens", ">= 1", "'0'"}},
          {negative.c_str(), {":2:", "output_tokens", "'-3'"}},
          {fraction.c_str(), {":2:", "input_tokens", "'1.5'"}},
          {huge.c_str(), {":2:", "input_tokens", "<= 2147483647"}},
          {skipped.c_str(), {":3:", "index", "expected 1", "got 2"}},
          {short_row.c_str(), {":2:", "missing field 'output_tokens'"}},
          {long_row.c_str(), {":2:", "unexpected extra field '3'"}},
          {empty_field.c_str(), {":2:", "input_tokens", "got ''"}},
          {"", {"empty file", "index,input_tokens,output_tokens"}},
          {"\n\n", {"empty file"}},
          {"index,input_tokens,output_tokens\n", {"no data rows"}},
          {"index,input,output_tokens\n0,1,2\n", {":1:", "column 2 is 'input'", "'input_tokens'"}},
          {"index,input_tokens\n0,1\n", {":1:", "missing column 'output_tokens'"}},
          {"index,input_tokens,output_tokens,x\n", {":1:", "unexpected extra column 'x'"}},
          {"0,374,44\n1,396,109\n", {":1:", "column 1 is '0'"}},
      },
      [](const fs::path& p) { load_length_dataset(p); });
}

TEST(LengthDataset, MissingFileAndDirectoryAreErrors) {
  test::TempDir dir;
  EXPECT_ERROR(load_length_dataset(dir.path() / "none.csv"), "cannot open");
  EXPECT_ERROR(load_length_dataset(dir.path()), "is a directory");
}

TEST(LengthSampler, ReproducesTheOfflineSequence) {
  LengthDataset d = length_dataset("azure-conv");
  std::vector<LengthPair> expected;
  std::ifstream in(reference_traces() / "offline_length_sequence_seed0.csv");
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_EQ(line, "draw_index,input_tokens,output_tokens");
  while (std::getline(in, line)) {
    int index = 0;
    LengthPair p;
    ASSERT_EQ(std::sscanf(line.c_str(), "%d,%d,%d", &index, &p.input_tokens, &p.output_tokens), 3);
    ASSERT_EQ(static_cast<std::size_t>(index), expected.size());
    expected.push_back(p);
  }
  ASSERT_EQ(expected.size(), 30000U);
  PythonRandom rng(0);
  LengthSampler sampler(d, rng);
  for (std::size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(sampler.next(), expected[i]) << "draw " << i;
  }
}

TEST(LengthSampler, RejectsAnEmptyDataset) {
  LengthDataset empty{"none", {}};
  PythonRandom rng(0);
  EXPECT_ERROR(LengthSampler s(empty, rng), "'none' is empty");
}

TEST(ArrivalPattern, BuiltinsHaveThreeSecondBuckets) {
  ArrivalPattern conv = arrival_pattern("azure-conv");
  EXPECT_EQ(conv.counts.size(), 1200U);
  EXPECT_EQ(conv.interval_s, 3);
  EXPECT_NEAR(conv.mean_count(), 13.88, 0.005);
  EXPECT_EQ(conv.counts[1], 3);  // row "1,3,3"
  ArrivalPattern code = arrival_pattern("azure-code");
  EXPECT_EQ(code.counts.size(), 1200U);
  EXPECT_NEAR(code.mean_count(), 6.31, 0.005);
  EXPECT_EQ(builtin_arrival_patterns(), (std::vector<std::string>{"azure-conv", "azure-code"}));
  std::string message = error_of([] { arrival_pattern("alpaca"); });
  EXPECT_NE(message.find("azure-conv, azure-code"), std::string::npos) << message;
}

TEST(ArrivalPattern, IntervalComesFromTheStartColumn) {
  test::TempDir dir;
  fs::path csv =
      dir.write("a.csv", "interval_index,interval_start_s,num_arrivals\n0,0,2\n1,0.5,0\n2,1,4\n");
  ArrivalPattern p = arrival_pattern(csv.string());
  EXPECT_EQ(p.interval_s, 0.5);
  EXPECT_EQ(p.counts, (std::vector<double>{2, 0, 4}));
  EXPECT_EQ(p.mean_count(), 2);
  EXPECT_EQ(load_arrival_pattern(
                dir.write("one.csv", "interval_index,interval_start_s,num_arrivals\n0,0,5\n"))
                .interval_s,
            3);
}

TEST(ArrivalPattern, BadFilesNameTheLineAndColumn) {
  expect_errors(
      {
          {"interval_index,interval_start_s,num_arrivals\n0,0,1\n1,3,-1\n",
           {"bad.csv:3:", "num_arrivals", ">= 0", "'-1'"}},
          {"interval_index,interval_start_s,num_arrivals\n0,0,1\n1,3,many\n",
           {":3:", "num_arrivals", "'many'"}},
          {"interval_index,interval_start_s,num_arrivals\n0,0,1\n1,3,2\n2,7,1\n",
           {":4:", "interval_start_s", "expected 6", "'7'"}},
          {"interval_index,interval_start_s,num_arrivals\n0,3,1\n1,3,2\n",
           {":3:", "interval_start_s"}},
          {"interval_index,interval_start_s,num_arrivals\n0,0,1\n5,3,2\n",
           {":3:", "interval_index", "expected 1"}},
          {"interval_index,interval_start_s\n0,0\n", {":1:", "missing column 'num_arrivals'"}},
          {"interval_index,interval_start_s,num_arrivals\n", {"no data rows"}},
          {"", {"empty file"}},
      },
      [](const fs::path& p) { load_arrival_pattern(p); });
}

struct ReferenceTrace {
  fs::path path;
  double avg_tps;
  double start_s;
};

std::vector<ReferenceTrace> online_reference_traces() {
  std::vector<ReferenceTrace> found;
  // Names are online_tp<avg>_start<t>.csv. (No std::regex: GCC 12 warns inside
  // <regex> under the sanitizer build, and warnings are errors.)
  for (const auto& entry : fs::directory_iterator(reference_traces())) {
    const std::string file = entry.path().filename().string();
    const std::string head = "online_tp", mid = "_start", tail = ".csv";
    const auto at_mid = file.find(mid);
    if (file.rfind(head, 0) != 0 || at_mid == std::string::npos || !file.ends_with(tail)) continue;
    const std::string tp = file.substr(head.size(), at_mid - head.size());
    const std::string start = file.substr(at_mid + mid.size(), file.size() - tail.size() - at_mid - mid.size());
    auto digits = [](const std::string& t) {
      return !t.empty() && std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
    };
    if (digits(tp) && digits(start)) found.push_back({entry.path(), std::stod(tp), std::stod(start)});
  }
  std::sort(found.begin(), found.end(),
            [](const auto& a, const auto& b) { return a.path < b.path; });
  return found;
}

TEST(PaperTrace, ReproducesEveryReferenceTraceBitForBit) {
  LengthDataset lengths = length_dataset("azure-conv");
  ArrivalPattern pattern = arrival_pattern("azure-conv");
  std::vector<ReferenceTrace> references = online_reference_traces();
  ASSERT_EQ(references.size(), 27U);
  for (const ReferenceTrace& r : references) {
    SCOPED_TRACE(r.path.filename().string());
    Trace expected = load_trace(r.path);
    Trace got = generate_paper_trace(lengths, pattern, r.avg_tps, r.start_s, 1800, 0);
    ASSERT_EQ(got.queries.size(), expected.queries.size());
    for (std::size_t i = 0; i < got.queries.size(); ++i) {
      // Exact comparison: the times are Python repr floats.
      ASSERT_EQ(got.queries[i], expected.queries[i])
          << "query " << i << ": " << got.queries[i].arrival_s << " vs "
          << expected.queries[i].arrival_s;
    }
  }
}

TEST(PaperTrace, KnownValuesOfTheTp700Trace) {
  Trace t = generate_paper_trace(length_dataset("azure-conv"), arrival_pattern("azure-conv"), 700,
                                 20, 1800, 0);
  ASSERT_EQ(t.queries.size(), 1293U);
  EXPECT_EQ(t.queries[0], (QuerySpec{21.261714742492536, 405, 103}));
  EXPECT_EQ(t.queries[3], (QuerySpec{25.754702995355395, 422, 144}));
  // Upstream's "avg token feeding throughput": Σ(I+O) / 1800, near the target.
  EXPECT_EQ(t.offered_tps(1800),
            load_trace(reference_traces() / "online_tp700_start20.csv").offered_tps(1800));
  EXPECT_NEAR(t.offered_tps(1800), 700, 70);
}

TEST(PaperTrace, OtherDatasetSeedAndStartMatchCPython) {
  // Computed with CPython 3.11 following spec §9.3: alpaca lengths, azure-code
  // pattern, 100 tok/s, start 5.5, 30 s (10 buckets), random.seed(3).
  Trace t = generate_paper_trace(length_dataset("alpaca"), arrival_pattern("azure-code"), 100, 5.5,
                                 30, 3);
  ASSERT_EQ(t.queries.size(), 31U);
  EXPECT_EQ(t.queries[0], (QuerySpec{24.0752323119859, 17, 54}));
  EXPECT_EQ(t.queries[1], (QuerySpec{24.691403731086883, 14, 85}));
  EXPECT_EQ(t.queries[2], (QuerySpec{24.907697012857064, 10, 53}));
  EXPECT_EQ(t.queries[3], (QuerySpec{25.122921656887115, 16, 64}));
  EXPECT_EQ(t.queries[30], (QuerySpec{35.24719238867489, 17, 161}));
  EXPECT_EQ(length_dataset("alpaca").mean_total(), 62.24688152979168);
}

TEST(PaperTrace, RoundsHalvesToEvenAndCarriesTheRest) {
  // Every bucket's scaled count is exactly 2.5 (rate 5 / mean length 2, 1-s
  // buckets): Python's round gives 2 (carry .5), then 3.0 -> 3, and so on.
  // Rounding halves up would give 3, 2, 3, 2.
  LengthDataset ones{"ones", {{1, 1}}};
  ArrivalPattern flat{"flat", 1, {4, 4, 4, 4}};
  Trace t = generate_paper_trace(ones, flat, 5, 0, 4, 0);
  std::vector<int> per_bucket(4);
  for (const QuerySpec& q : t.queries) {
    per_bucket[static_cast<std::size_t>(std::floor(q.arrival_s))]++;
  }
  EXPECT_EQ(per_bucket, (std::vector<int>{2, 3, 2, 3}));
}

TEST(PaperTrace, IsSortedWithinTheWindowAndDeterministic) {
  LengthDataset lengths = length_dataset("shared-gpt");
  ArrivalPattern pattern = arrival_pattern("azure-code");
  Trace a = generate_paper_trace(lengths, pattern, 300, 10, 600, 7);
  EXPECT_EQ(a, generate_paper_trace(lengths, pattern, 300, 10, 600, 7));
  EXPECT_NE(a, generate_paper_trace(lengths, pattern, 300, 10, 600, 8));
  ASSERT_FALSE(a.queries.empty());
  EXPECT_TRUE(std::is_sorted(a.queries.begin(), a.queries.end(), [](const auto& x, const auto& y) {
    return x.arrival_s < y.arrival_s;
  }));
  EXPECT_GE(a.queries.front().arrival_s, 10);
  EXPECT_LT(a.queries.back().arrival_s, 610);
}

TEST(PaperTrace, RejectsBadArguments) {
  LengthDataset lengths = length_dataset("azure-conv");
  ArrivalPattern pattern = arrival_pattern("azure-conv");
  EXPECT_ERROR(generate_paper_trace(lengths, pattern, 0, 0, 1800, 0), "avg_throughput_tps");
  EXPECT_ERROR(generate_paper_trace(lengths, pattern, NAN, 0, 1800, 0), "avg_throughput_tps");
  EXPECT_ERROR(generate_paper_trace(lengths, pattern, 700, 0, -1, 0), "duration_s");
  EXPECT_ERROR(generate_paper_trace(lengths, pattern, 700, 0, 1, 0), "shorter than one");
  EXPECT_ERROR(generate_paper_trace(lengths, pattern, 700, -1, 1800, 0), "start");
  EXPECT_ERROR(generate_paper_trace(lengths, pattern, 1e15, 0, 1800, 0), "exceed");
  ArrivalPattern silent{"silent", 3, {0, 0}};
  ArrivalPattern negative{"negative", 3, {4, -1}};
  EXPECT_ERROR(generate_paper_trace(lengths, negative, 700, 0, 1800, 0), "count -1");
  EXPECT_ERROR(generate_paper_trace(LengthDataset{"zero", {{0, 0}}}, pattern, 700, 0, 1800, 0),
               "no tokens");
  EXPECT_ERROR(generate_paper_trace(lengths, silent, 700, 0, 1800, 0), "no arrivals");
  EXPECT_ERROR(generate_paper_trace(LengthDataset{"e", {}}, pattern, 700, 0, 1800, 0), "empty");
}

TEST(PoissonTrace, HasTheRequestedRateAndIsDeterministic) {
  LengthDataset lengths = length_dataset("azure-conv");
  const double tps = 700, start = 20, duration = 1800;
  Trace t = generate_poisson_trace(lengths, tps, start, duration, 1);
  EXPECT_EQ(t, generate_poisson_trace(lengths, tps, start, duration, 1));
  EXPECT_NE(t, generate_poisson_trace(lengths, tps, start, duration, 2));
  // The count is Poisson with mean rate * duration; 5 sd is far outside chance.
  double mean = tps / lengths.mean_total() * duration;
  EXPECT_NEAR(static_cast<double>(t.queries.size()), mean, 5 * std::sqrt(mean));
  EXPECT_NEAR(t.offered_tps(duration), tps, 0.15 * tps);
  EXPECT_TRUE(std::is_sorted(t.queries.begin(), t.queries.end(), [](const auto& x, const auto& y) {
    return x.arrival_s < y.arrival_s;
  }));
  EXPECT_GE(t.queries.front().arrival_s, start);
  EXPECT_LT(t.queries.back().arrival_s, start + duration);
  std::set<std::pair<int, int>> pairs;
  for (const LengthPair& p : lengths.pairs) pairs.insert({p.input_tokens, p.output_tokens});
  for (const QuerySpec& q : t.queries) EXPECT_TRUE(pairs.count({q.input_tokens, q.output_tokens}));
}

TEST(PoissonTrace, GapsAreExponential) {
  // Mean length 2 and 20 tok/s: 10 requests/s, so gaps have mean and sd 0.1 s.
  Trace t = generate_poisson_trace(LengthDataset{"ones", {{1, 1}}}, 20, 0, 2000, 5);
  ASSERT_GT(t.queries.size(), 10000U);
  double sum = 0, sum_sq = 0, previous = 0;
  for (const QuerySpec& q : t.queries) {
    double gap = q.arrival_s - previous;
    sum += gap;
    sum_sq += gap * gap;
    previous = q.arrival_s;
  }
  double n = static_cast<double>(t.queries.size());
  double mean = sum / n;
  EXPECT_NEAR(mean, 0.1, 0.003);
  EXPECT_NEAR(std::sqrt(sum_sq / n - mean * mean), 0.1, 0.005);
}

TEST(PoissonTrace, RejectsBadArguments) {
  LengthDataset lengths = length_dataset("alpaca");
  EXPECT_ERROR(generate_poisson_trace(lengths, -5, 0, 10, 0), "avg_throughput_tps");
  EXPECT_ERROR(generate_poisson_trace(lengths, 5, 0, 0, 0), "duration_s");
  EXPECT_ERROR(generate_poisson_trace(lengths, 1e15, 0, 1e6, 0), "exceed");
  EXPECT_ERROR(generate_poisson_trace(LengthDataset{"e", {}}, 5, 0, 10, 0), "empty");
}

TEST(TraceFile, SaveThenLoadGivesTheSameTrace) {
  test::TempDir dir;
  Trace generated = generate_paper_trace(length_dataset("azure-conv"),
                                         arrival_pattern("azure-conv"), 320, 18, 1800, 0);
  Trace awkward{{{0, 1, 1},
                 {0.1, 2, 3},
                 {1.0 / 3.0, 4, 5},
                 {1.0 / 3.0, 6, 7},
                 {1e-300, 8, 9},
                 {1e300, 10, 11}}};
  std::sort(awkward.queries.begin(), awkward.queries.end(),
            [](const auto& x, const auto& y) { return x.arrival_s < y.arrival_s; });
  for (const Trace& t : {generated, awkward, Trace{}}) {
    fs::path path = dir.path() / "t.csv";
    save_trace(t, path);
    EXPECT_EQ(load_trace(path), t);
  }
  save_trace(awkward, dir.path() / "a.csv");
  std::string text = test::read_file(dir.path() / "a.csv");
  EXPECT_EQ(text.substr(0, text.find('\n')),
            "query_index,arrival_time_s,input_tokens,output_tokens");
  EXPECT_NE(text.find("\n1,1e-300,8,9\n"), std::string::npos) << text;
  EXPECT_NE(text.find(",0.10000000000000001,2,3\n"), std::string::npos) << text;
}

TEST(TraceFile, SaveToAnUnwritablePathIsAnError) {
  test::TempDir dir;
  std::string message = error_of([&] { save_trace(Trace{}, dir.path() / "no/such/dir/t.csv"); });
  EXPECT_NE(message.find("cannot open file for writing"), std::string::npos) << message;
}

TEST(TraceFile, BadFilesNameTheLineAndColumn) {
  const char* h = "query_index,arrival_time_s,input_tokens,output_tokens\n";
  std::string decreasing = std::string(h) + "0,1.5,1,1\n1,1.25,1,1\n";
  std::string negative = std::string(h) + "0,-0.5,1,1\n";
  std::string infinite = std::string(h) + "0,inf,1,1\n";
  std::string not_a_number = std::string(h) + "0,nan,1,1\n";
  std::string text_time = std::string(h) + "0,soon,1,1\n";
  std::string zero_output = std::string(h) + "0,1,5,0\n";
  std::string bad_index = std::string(h) + "zero,1,5,1\n";
  expect_errors(
      {
          {decreasing.c_str(),
           {"bad.csv:3:", "arrival_time_s", "1.25", "before the previous arrival 1.5"}},
          {negative.c_str(), {":2:", "arrival_time_s", "'-0.5'"}},
          {infinite.c_str(), {":2:", "arrival_time_s", "finite", "'inf'"}},
          {not_a_number.c_str(), {":2:", "arrival_time_s", "'nan'"}},
          {text_time.c_str(), {":2:", "arrival_time_s", "'soon'"}},
          {zero_output.c_str(), {":2:", "output_tokens", ">= 1"}},
          {bad_index.c_str(), {":2:", "query_index", "'zero'"}},
          {"query_index,arrival_s,input_tokens,output_tokens\n",
           {":1:", "'arrival_s'", "'arrival_time_s'"}},
          {"", {"empty file"}},
      },
      [](const fs::path& p) { load_trace(p); });
}

TEST(TraceFile, OfferedTpsCountsEveryToken) {
  Trace t{{{0, 100, 20}, {1, 30, 50}}};
  EXPECT_EQ(t.offered_tps(2), 100);
  EXPECT_ERROR(t.offered_tps(0), "duration_s");
}

}  // namespace
}  // namespace helix::sim
