// `helix simulate`: run the discrete-event simulator on a placed cluster and
// report throughput, latency percentiles and where time goes; with
// --plan-and-compare, plan the cluster with several methods and simulate each.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>

#include <fmt/format.h>

#include "cli_common.h"
#include "commands.h"
#include "planned_model.h"
#include "helix/core/error.h"
#include "helix/perf/perf_model.h"
#include "helix/plan/placement.h"
#include "helix/plan/placement_svg.h"
#include "helix/plan/planner.h"
#include "helix/sim/report_plots.h"
#include "helix/sim/simulator.h"

namespace helix::cli {
namespace {

struct SimulateOptions {
  std::string cluster = kDefaultCluster;
  std::string machine_profiles;
  std::string placement;
  std::string model = kDefaultModel;
  WorkerDtypes dtypes;  // with model files: what the workers will store and send
  std::string scheduler = "helix";
  std::string runtime = "paper";
  int clients = 0;
  int prefill_chunk = 512;
  int max_batch_tokens = 2048;
  double gather = 0.001;
  std::string mode = "offline";
  std::string lengths = "azure-conv";
  std::string arrivals = "azure-conv";  // paper | poisson | file (with --trace)
  std::string trace;
  std::string report;
  std::string plots;
  std::string compare_methods = "helix,swarm,petals";
  std::string objective = "served";
  double rate = 0;
  double duration = 0;  // 0: the mode's default
  double warm_up = -1;  // <0: the mode's default
  double plan_time = 10;
  double kv_hwm = 0;           // 0: the mode's default (0.85 offline, 0.9 online)
  double kv_output_ratio = -1; // <0: the mode's default (1.0 offline, 0.6 online)
  double feed_hwm = 0.8;
  int initial_queries = 0;  // 0: the default of make_config()
  std::uint64_t seed = 0;
  bool json = false;
  bool partial = false;
  bool poisson = false;
  bool plan_and_compare = false;
  bool samples = false;
  bool progress = false;
  bool warm_start = false;
};

sim::SimConfig make_config(const SimulateOptions& o, sim::SchedulerKind scheduler) {
  sim::SimConfig c;
  c.runtime = sim::parse_runtime(o.runtime);
  c.helix_runtime.clients = o.clients;
  c.helix_runtime.prefill_chunk = o.prefill_chunk;
  c.helix_runtime.max_batch_tokens = o.max_batch_tokens;
  c.helix_runtime.gather_s = o.gather;
  c.scheduler = scheduler;
  c.mode = sim::parse_mode(o.mode);
  c.lengths = o.lengths;
  c.seed = o.seed;
  // The paper's offline Helix runs start 20 queries and let the KV ledger admit
  // more; the baselines cannot reject, so they get a fixed population.
  c.initial_queries = o.initial_queries > 0 ? o.initial_queries
                                            : (scheduler == sim::SchedulerKind::Helix ? 20 : 100);
  c.feed_hwm = o.feed_hwm;
  c.warm_start = o.warm_start;
  if (o.kv_hwm != 0 || o.kv_output_ratio >= 0) {
    sched::KvParameters kv = c.effective_kv();
    if (o.kv_hwm != 0) kv.expected_kv_hwm = o.kv_hwm;
    if (o.kv_output_ratio >= 0) kv.expected_output_ratio = o.kv_output_ratio;
    c.kv = kv;
  }
  if (o.duration != 0) c.duration_s = o.duration;
  if (o.warm_up >= 0) c.warm_up_s = o.warm_up;
  if (c.mode == sim::Mode::Online) {
    if (!o.trace.empty()) {
      c.online.source = sim::OnlineWorkload::Source::File;
      c.online.trace_file = o.trace;
    } else {
      c.online.source = o.poisson ? sim::OnlineWorkload::Source::Poisson : sim::OnlineWorkload::Source::PaperTrace;
      c.online.avg_throughput_tps = o.rate;
      c.online.arrival_pattern = o.arrivals;
    }
  }
  c.validate();
  return c;
}

bool is_paper_simulator_cluster(const std::string& path) {
  return std::filesystem::path(path).filename().string().find("simulator_cluster") != std::string::npos;
}

sim::SimCluster load_sim_cluster(const SimulateOptions& o, const ModelSpec& model,
                                 const std::optional<Placement>& planned) {
  if (planned) {
    LoadedCluster loaded = load_cluster_arg(o.cluster, o.machine_profiles);
    return sim::sim_cluster_from_placement(loaded.cluster, model, *planned,
                                           o.partial || planned->method == "petals");
  }
  if (o.placement.empty()) fail("--placement is needed (or --plan-and-compare to plan first)");
  if (is_paper_simulator_cluster(o.cluster)) return sim::sim_cluster_from_paper(o.cluster, o.placement, model);
  LoadedCluster loaded = load_cluster_arg(o.cluster, o.machine_profiles);
  Placement placement = load_placement(o.placement, loaded.cluster, model.num_layers);
  return sim::sim_cluster_from_placement(loaded.cluster, model, placement,
                                         o.partial || placement.method == "petals");
}

// A one-line progress bar on stderr, only when stderr is a terminal (or forced).
sim::ProgressFn progress_bar(bool enabled) {
  if (!enabled) return nullptr;
  return [](double now, double horizon) {
    const double share = horizon > 0 ? std::min(1.0, now / horizon) : 1.0;
    const int width = 40;
    const int full = static_cast<int>(share * width);
    std::fprintf(stderr, "\r  simulating [%s%s] %5.1f%%  t = %.0f s", std::string(static_cast<std::size_t>(full), '#').c_str(),
                 std::string(static_cast<std::size_t>(width - full), '.').c_str(), 100 * share, now);
    if (share >= 1.0) std::fprintf(stderr, "\n");
    std::fflush(stderr);
  };
}

void write_plots(const sim::SimReport& r, const std::string& dir, const std::string& title) {
  std::filesystem::create_directories(dir);
  const sim::FinishedSamples& s = r.samples;
  std::vector<double> prompt_lat, decode_lat;
  for (std::size_t i = 0; i < s.prompt_finish_s.size(); ++i) {
    if (s.prompt_finish_s[i] >= r.window_start_s && s.prompt_finish_s[i] <= r.window_end_s) prompt_lat.push_back(s.prompt_latency_s[i]);
  }
  for (std::size_t i = 0; i < s.decode_finish_s.size(); ++i) {
    if (s.decode_finish_s[i] >= r.window_start_s && s.decode_finish_s[i] <= r.window_end_s) decode_lat.push_back(s.decode_latency_s[i]);
  }
  save_svg(sim::latency_cdf_svg({{"prompt", prompt_lat, {}}, {"decode (per token)", decode_lat, {}}},
                                title + ": latency CDF"),
           std::filesystem::path(dir) / "latency_cdf.svg");
  save_svg(sim::throughput_svg({{"decode", s.decode_finish_s, {}}, {"prompt", s.prompt_finish_s, s.prompt_tokens}},
                               10, r.window_start_s, r.window_end_s, title + ": throughput"),
           std::filesystem::path(dir) / "throughput.svg");
}

void print_report(const sim::SimReport& r) {
  std::printf("max flow %.2f tokens/s; model loaded at %.0f s; window %.0f-%.0f s\n", r.max_flow_tps,
              r.model_loading_end_s, r.window_start_s, r.window_end_s);
  if (r.offered_tps > 0) std::printf("offered load %.2f tokens/s (input + output)\n", r.offered_tps);
  std::printf("decode throughput %.2f tokens/s, prompt %.2f tokens/s (%lld decodes, %lld prompts in the window)\n",
              r.decode_tps, r.prompt_tps, static_cast<long long>(r.decodes_in_window),
              static_cast<long long>(r.prompts_in_window));
  auto row = [](const char* name, const sim::LatencyStats& s) {
    return std::vector<std::string>{name, std::to_string(s.count), fixed(s.mean_s, 3), fixed(s.p5_s, 3),
                                    fixed(s.p25_s, 3), fixed(s.p50_s, 3), fixed(s.p75_s, 3), fixed(s.p95_s, 3),
                                    fixed(s.p99_s, 3)};
  };
  std::printf("%s", format_table({{"latency (s)", "count", "mean", "p5", "p25", "p50", "p75", "p95", "p99"},
                                  row("prompt", r.prompt_latency), row("decode", r.decode_latency)})
                        .c_str());
  std::printf("queries: %lld created, %lld finished, %lld rejected, %lld deferred; %lld events\n",
              static_cast<long long>(r.queries_created), static_cast<long long>(r.queries_finished),
              static_cast<long long>(r.queries_rejected), static_cast<long long>(r.queries_deferred),
              static_cast<long long>(r.events));
  if (r.preemptions > 0) std::printf("preemptions (KV full on a worker, recomputed): %lld\n", static_cast<long long>(r.preemptions));
  if (r.kv_overflows > 0) {
    std::printf("WARNING: %lld layer batches overfilled a node's KV cache (the scheduler admitted too much)\n",
                static_cast<long long>(r.kv_overflows));
  }
}

sim::SimReport run_one(const SimulateOptions& o, const sim::SimCluster& cluster, sim::SchedulerKind kind) {
  sim::SimConfig config = make_config(o, kind);
  sim::SimReport r = sim::simulate(cluster, config, progress_bar(o.progress || isatty(2)));
  r.settings = {{"runtime", o.runtime},
                {"scheduler", sim::to_string(kind)},
                {"mode", o.mode},
                {"cluster", cluster.description},
                {"model", cluster.model.name},
                {"lengths", o.lengths},
                {"seed", o.seed},
                {"initial_queries", config.initial_queries},
                {"warm_up_s", config.effective_warm_up_s()},
                {"duration_s", config.effective_duration_s()},
                {"kv_hwm", config.effective_kv().expected_kv_hwm},
                {"kv_output_ratio", config.effective_kv().expected_output_ratio},
                {"feed_hwm", config.feed_hwm},
                {"warm_start", config.warm_start}};
  if (config.runtime == sim::Runtime::Helix) {
    r.settings["prefill_chunk"] = config.helix_runtime.prefill_chunk;
    r.settings["max_batch_tokens"] = config.helix_runtime.max_batch_tokens;
    if (config.mode == sim::Mode::Offline) r.settings["clients"] = config.helix_runtime.clients;
  }
  if (config.mode == sim::Mode::Online) {
    r.settings["arrivals"] = o.trace.empty() ? (o.poisson ? "poisson" : o.arrivals) : o.trace;
    r.settings["rate_tps"] = o.rate;
  }
  return r;
}

void run_simulate(const SimulateOptions& o) {
  const ModelSpec model = planned_model(o.model, o.dtypes);
  const sim::SchedulerKind kind = sim::parse_scheduler(o.scheduler);
  const sim::SimCluster cluster = load_sim_cluster(o, model, std::nullopt);
  sim::SimReport r = run_one(o, cluster, kind);
  if (!o.report.empty()) sim::save_report(r, o.report, o.samples);
  if (!o.plots.empty()) write_plots(r, o.plots, sim::to_string(kind));
  if (o.json) {
    print_json(sim::report_to_json(r, o.samples));
  } else {
    std::printf("helix simulate: %s, %s scheduler, %s\n", cluster.description.c_str(), o.scheduler.c_str(), o.mode.c_str());
    print_report(r);
  }
}

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = text.find(',', start);
    const std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// Plans with each method (and takes the published placement given with
// --placement as one more row), then simulates each with the Helix scheduler (and
// the Swarm placement with its own scheduler too, for the paper's runtime): what
// each serves, its latency and its max flow, side by side.
void run_compare(const SimulateOptions& o) {
  const ModelSpec model = planned_model(o.model, o.dtypes);
  LoadedCluster loaded = load_cluster_arg(o.cluster, o.machine_profiles);
  const PerfModel perf = PerfModel::build(loaded.cluster, model);
  std::vector<std::pair<std::string, Placement>> plans;
  if (!o.placement.empty()) {
    plans.emplace_back("published", load_placement(o.placement, loaded.cluster, model.num_layers));
  }
  for (const std::string& method : split(o.compare_methods)) {
    PlanContext ctx(loaded.cluster, model, perf, o.seed);
    ctx.time_limit_s = o.plan_time;
    ctx.threads = 2;
    if (!o.json) std::fprintf(stderr, "planning with %s...\n", method.c_str());
    auto planner = make_cli_planner({method, o.objective, o.runtime, o.lengths, o.seed, 0});
    plans.emplace_back(method, plan_and_evaluate(*planner, ctx));
  }
  std::vector<std::vector<std::string>> rows = {{"placement", "scheduler", "max flow (tok/s)", "decode (tok/s)", "vs " + plans.front().first,
                                                 "decode mean (s)", "decode p95 (s)", "prompt mean (s)", "prompt p95 (s)"}};
  nlohmann::json runs = nlohmann::json::array();
  double reference = 0;
  for (const auto& [name, placement] : plans) {
    const sim::SimCluster cluster = load_sim_cluster(o, model, placement);
    std::vector<sim::SchedulerKind> kinds = {sim::SchedulerKind::Helix};
    if (name == "swarm" && sim::parse_runtime(o.runtime) == sim::Runtime::Paper) kinds.push_back(sim::SchedulerKind::Swarm);
    for (sim::SchedulerKind kind : kinds) {
      if (!o.json) std::fprintf(stderr, "simulating the %s placement with %s scheduling...\n", name.c_str(), sim::to_string(kind).c_str());
      const sim::SimReport r = run_one(o, cluster, kind);
      if (reference == 0) reference = r.decode_tps;
      rows.push_back({name, sim::to_string(kind), fixed(r.max_flow_tps), fixed(r.decode_tps),
                      reference > 0 ? fixed(r.decode_tps / reference, 3) + "x" : "-", fixed(r.decode_latency.mean_s, 3),
                      fixed(r.decode_latency.p95_s, 3), fixed(r.prompt_latency.mean_s, 3), fixed(r.prompt_latency.p95_s, 3)});
      runs.push_back({{"placement", name}, {"placement_json", placement_to_json(placement, &loaded.cluster)},
                      {"report", sim::report_to_json(r)}});
    }
  }
  if (o.json) {
    print_json({{"format", "helix-sim-compare"}, {"version", 2}, {"runs", runs}});
  } else {
    std::printf("helix simulate --plan-and-compare: %s on %s, %s, %s runtime\n%s", model.name.c_str(),
                loaded.source.c_str(), o.mode.c_str(), o.runtime.c_str(), format_table(rows).c_str());
  }
}

}  // namespace

void register_simulate(CLI::App& app) {
  auto o = std::make_shared<SimulateOptions>();
  CLI::App* cmd = app.add_subcommand("simulate", "Simulate serving on a placed cluster (throughput, latency)");
  cmd->add_option("--cluster", o->cluster,
                  "cluster file (.yaml, the paper's cluster .ini or simulator_cluster.ini) or built-in name")
      ->capture_default_str();
  cmd->add_option("--machine-profiles", o->machine_profiles, "the paper's machine_profiles.ini (for its cluster .ini)");
  cmd->add_option("--placement", o->placement, "placement (.json, or the paper's *_sol.ini)");
  cmd->add_option("--model", o->model,
                  "model preset, config.json, or the model's files (.gguf or a directory with weights: simulated "
                  "with the bytes helix's workers hold and send)")
      ->capture_default_str();
  add_worker_dtype_options(cmd, o->dtypes);
  cmd->add_option("--scheduler", o->scheduler, "helix | swarm | random | shortest-queue")->capture_default_str();
  cmd->add_option("--runtime", o->runtime,
                  "the serving runtime simulated: paper (the paper's prototype, as its simulator has it) or helix "
                  "(helix's workers: whole-stage batches, chunked prefill, KV admission and preemption)")
      ->capture_default_str();
  cmd->add_option("--clients", o->clients,
                  "helix runtime, offline: closed-loop clients (default: enough to keep the KV ledger full)");
  cmd->add_option("--prefill-chunk", o->prefill_chunk, "helix runtime: prompt chunk per step (tokens)")
      ->capture_default_str();
  cmd->add_option("--max-batch-tokens", o->max_batch_tokens, "helix runtime: tokens per worker step")
      ->capture_default_str();
  cmd->add_option("--gather", o->gather, "helix runtime: seconds an idle worker waits for more work before a step")
      ->capture_default_str();
  cmd->add_option("--mode", o->mode, "offline (closed loop) | online (arrivals)")->capture_default_str();
  cmd->add_option("--rate", o->rate, "online: offered load in tokens/s (input + output)");
  cmd->add_flag("--poisson", o->poisson, "online: Poisson arrivals instead of the paper's Azure pattern");
  cmd->add_option("--arrivals", o->arrivals, "online: arrival pattern (azure-conv, azure-code, or a CSV)")
      ->capture_default_str();
  cmd->add_option("--trace", o->trace, "online: a trace CSV (query_index,arrival_time_s,input_tokens,output_tokens)");
  cmd->add_option("--lengths", o->lengths, "length dataset: azure-conv, azure-code, alpaca, shared-gpt or a CSV")
      ->capture_default_str();
  cmd->add_option("--duration", o->duration, "measured seconds (default 600 offline, 1800 online)");
  cmd->add_option("--warm-up", o->warm_up, "seconds before measuring (default 60 offline, 0 online)");
  cmd->add_option("--initial-queries", o->initial_queries,
                  "offline: queries in flight at the start (default 20 for helix, 100 for baselines)");
  cmd->add_option("--seed", o->seed, "random seed")->capture_default_str();
  cmd->add_option("--kv-hwm", o->kv_hwm,
                  "Helix router: a node takes a prompt while its expected KV use stays below this share "
                  "(default 0.85 offline, 0.9 online)");
  cmd->add_option("--kv-output-ratio", o->kv_output_ratio,
                  "Helix router: expected output = this x 240 tokens (default 1.0 offline, 0.6 online)");
  cmd->add_option("--feed-hwm", o->feed_hwm, "offline Helix: admit new queries while the KV bottleneck is below this")
      ->capture_default_str();
  cmd->add_flag("--warm-start", o->warm_start,
                "offline helix: start with the cluster already full of decoding queries (steady state at once)");
  cmd->add_flag("--partial-inference", o->partial, "allow links into the middle of a node's layers");
  cmd->add_option("--report", o->report, "write the JSON report here");
  cmd->add_flag("--samples", o->samples, "include every finished request in the JSON report");
  cmd->add_option("--plots", o->plots, "write latency_cdf.svg and throughput.svg into this folder");
  cmd->add_flag("--progress", o->progress, "show a progress bar even when stderr is not a terminal");
  cmd->add_flag("--plan-and-compare", o->plan_and_compare, "plan with several methods, simulate each, one table");
  cmd->add_option("--methods", o->compare_methods, "with --plan-and-compare: planners, comma-separated")
      ->capture_default_str();
  cmd->add_option("--plan-time", o->plan_time, "with --plan-and-compare: seconds per anytime planner")
      ->capture_default_str();
  cmd->add_option("--objective", o->objective,
                  "with --plan-and-compare: what helix plans for, served (by the --runtime) or max-flow")
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "print the report as JSON");
  cmd->callback([o] {
    if (o->plan_and_compare) {
      run_compare(*o);
    } else {
      run_simulate(*o);
    }
  });
}

}  // namespace helix::cli
