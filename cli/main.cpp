// g4eval: one binary, one subcommand per cli/cmd_*.cpp. Exit status: 0 ok, 1 a check/gate failed,
// 2 bad usage or bad input (one line naming the file and the problem), 3 internal error (a bug).
#include <algorithm>
#include <cstdio>
#include <map>

#include "cli/command.h"
#include "core/error.h"

namespace g4::cli {
std::vector<CommandDef>& command_registry() {
  static std::vector<CommandDef> registry;
  return registry;
}
}  // namespace g4::cli

int main(int argc, char** argv) {
  using namespace g4::cli;
  CLI::App app{
      "g4eval: evaluation and benchmarking harness for Gemma 4 12B (gemma4_unified)\n"
      "with a bit-exact CPU reference. Run `g4eval COMMAND --help` for a command's flags.",
      "g4eval"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("g4eval ") + G4_VERSION);
  auto& registry = command_registry();
  std::sort(registry.begin(), registry.end(),
            [](const CommandDef& a, const CommandDef& b) { return a.name < b.name; });
  std::map<CLI::App*, Action> actions;
  for (auto& def : registry) {
    CLI::App* sub = app.add_subcommand(def.name, def.summary);
    actions[sub] = def.setup(*sub);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  try {
    for (auto& [sub, action] : actions)
      if (sub->parsed()) return action();
  } catch (const g4::InputError& e) {
    std::fprintf(stderr, "g4eval: %s\n", e.what());
    return 2;
  } catch (const g4::InternalError& e) {
    std::fprintf(stderr, "g4eval: internal error: %s\n", e.what());
    return 3;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "g4eval: error: %s\n", e.what());
    return 3;
  }
  return 2;
}
