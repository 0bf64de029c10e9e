// `helix`: the command-line entry point. Each subcommand lives in its own file
// (cmd_*.cpp) and registers itself here; helix::Error is caught once, printed as
// one line, and turned into exit code 1 (2 for command-line usage errors).
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "commands.h"
#include "helix/core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"helix: serve LLMs over heterogeneous GPU clusters (max-flow placement and routing)"};
  app.require_subcommand(1);
  helix::cli::register_plan(app);
  helix::cli::register_flow(app);
  helix::cli::register_simulate(app);
  helix::cli::register_model(app);
  helix::cli::register_generate(app);
  helix::cli::register_profile(app);
  helix::cli::register_serve(app);
  helix::cli::register_worker(app);
  helix::cli::register_up(app);
  helix::cli::register_nodes(app);
  helix::cli::register_keys(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; any command-line mistake exits 2.
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const helix::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    // Not expected: every bad input should surface as helix::Error. Still one line.
    std::fprintf(stderr, "internal error: %s\n", e.what());
    return 3;
  }
  return 0;
}
