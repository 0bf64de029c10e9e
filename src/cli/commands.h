// Subcommand registration: each cmd_*.cpp adds its subcommand to the app.
#pragma once

#include <CLI/CLI.hpp>

namespace helix::cli {

void register_plan(CLI::App& app);
void register_flow(CLI::App& app);
void register_simulate(CLI::App& app);
void register_model(CLI::App& app);
void register_generate(CLI::App& app);
void register_profile(CLI::App& app);
void register_serve(CLI::App& app);
void register_worker(CLI::App& app);
void register_up(CLI::App& app);
void register_nodes(CLI::App& app);
void register_keys(CLI::App& app);

}  // namespace helix::cli
