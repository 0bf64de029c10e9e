// `helix nodes`: the coordinator's admin API from the command line — list the
// nodes (layers, state, KV, routed share), drain one (finish its in-flight work,
// route nothing new, then release its layers) or remove one (its requests move
// to other routes).
#include <cctype>
#include <cstdio>
#include <string>

#include <fmt/format.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "helix/core/error.h"

namespace helix::cli {
namespace {

struct NodesOptions {
  std::string url = "http://127.0.0.1:8000";
  std::string api_key;
  std::string drain, remove;
  bool json = false;
};

// "http://HOST:PORT" -> a client.
httplib::Client client_for(const NodesOptions& o) {
  if (!o.url.starts_with("http://")) fail("--url {}: expected http://HOST:PORT", o.url);
  httplib::Client c(o.url);
  if (!c.is_valid()) fail("--url {}: not a valid address", o.url);
  c.set_read_timeout(150, 0);
  if (!o.api_key.empty()) c.set_bearer_token_auth(o.api_key);
  return c;
}

nlohmann::json answer(const httplib::Result& res, const NodesOptions& o) {
  if (!res) fail("cannot reach the coordinator at {}: {}", o.url, httplib::to_string(res.error()));
  nlohmann::json body = nlohmann::json::parse(res->body, nullptr, false);
  if (res->status >= 400) {
    const std::string message = body.is_object() && body.contains("error") ? body["error"].value("message", res->body) : res->body;
    fail("the coordinator answered {}: {}", res->status, message);
  }
  if (body.is_discarded()) fail("the coordinator's answer is not JSON: {}", res->body.substr(0, 200));
  return body;
}

// A node name as one URL path segment (percent-encoding all but unreserved characters).
std::string path_segment(const std::string& name) {
  std::string out;
  for (unsigned char ch : name) {
    if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~') out += static_cast<char>(ch);
    else out += fmt::format("%{:02X}", ch);
  }
  return out;
}

std::string range_text(const nlohmann::json& r) {
  return r.is_array() ? fmt::format("[{}, {})", r[0].get<int>(), r[1].get<int>()) : std::string("-");
}

void print_table(const nlohmann::json& body) {
  std::printf("%-16s %-10s %-9s %-10s %-10s %-8s %12s %8s %8s\n", "node", "gpu", "state", "layers", "loaded", "on",
              "kv used/cap", "planned", "routed");
  for (const nlohmann::json& n : body["nodes"]) {
    const std::string kv = fmt::format("{}/{}", n["kv_used_tokens"].get<long long>(), n["kv_capacity_tokens"].get<long long>());
    const std::string on = n.contains("device") && n["device"].is_string() ? n["device"].get<std::string>() : "-";
    std::printf("%-16s %-10s %-9s %-10s %-10s %-8s %12s %7.1f%% %7.1f%%\n", n["name"].get<std::string>().c_str(),
                n["gpu"].get<std::string>().c_str(), n["state"].get<std::string>().c_str(), range_text(n["layers"]).c_str(),
                range_text(n["loaded"]).c_str(), on.c_str(), kv.c_str(), 100 * n["planned_share"].get<double>(),
                100 * n["routed_share"].get<double>());
  }
  std::printf("routing: %s, max flow %.1f tokens/s; %lld nodes lost, %lld re-plans, %lld requests re-routed\n",
              body["routing"].get<bool>() ? "yes" : "NO (re-planning or waiting for nodes)",
              body["max_flow_tokens_per_s"].get<double>(), body["nodes_lost"].get<long long>(),
              body["replans"].get<long long>(), body["requests_rerouted"].get<long long>());
}

void run_nodes(const NodesOptions& o) {
  if (!o.drain.empty() && !o.remove.empty()) fail("give --drain NODE or --remove NODE, not both");
  httplib::Client c = client_for(o);
  if (!o.drain.empty() || !o.remove.empty()) {
    const std::string node = o.drain.empty() ? o.remove : o.drain;
    const std::string path = fmt::format("/admin/nodes/{}/{}", path_segment(node), o.drain.empty() ? "remove" : "drain");
    const nlohmann::json body = answer(c.Post(path, "", "application/json"), o);
    std::printf("%s: %s (now %s)\n", node.c_str(), o.drain.empty() ? "removed" : "draining", body.value("state", "?").c_str());
    return;
  }
  const nlohmann::json body = answer(c.Get("/admin/nodes"), o);
  if (o.json) {
    std::printf("%s\n", body.dump(2).c_str());
    return;
  }
  print_table(body);
}

}  // namespace

void register_nodes(CLI::App& app) {
  auto o = std::make_shared<NodesOptions>();
  auto* cmd = app.add_subcommand("nodes", "List a running coordinator's nodes, or drain or remove one (its admin API)");
  cmd->add_option("--url", o->url, "The coordinator's HTTP address")->capture_default_str();
  cmd->add_option("--api-key", o->api_key, "Its API key (as for the OpenAI API)");
  cmd->add_option("--drain", o->drain, "Finish the node's in-flight requests, route nothing new to it, then release its layers");
  cmd->add_option("--remove", o->remove, "Take the node out now (its requests move to other routes)");
  cmd->add_flag("--json", o->json, "Print the admin API's JSON (helix-nodes/1)");
  cmd->callback([o] { run_nodes(*o); });
}

}  // namespace helix::cli
