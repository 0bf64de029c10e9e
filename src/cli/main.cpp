// `helix`: the command-line entry point. Each subcommand lives in its own file
// (cmd_*.cpp) and registers itself here; helix::Error is caught once, printed as
// one line, and turned into exit code 1 (2 for command-line usage errors).
#include <cstdio>
#include <exception>

#include <CLI/CLI.hpp>

#include "helix/core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"helix: serve LLMs over heterogeneous GPU clusters (max-flow placement and routing)"};
  app.require_subcommand(1);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const helix::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
