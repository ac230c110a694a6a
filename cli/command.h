// Subcommand registry: each cli/cmd_*.cpp registers one subcommand with a static RegisterCommand.
// setup() adds the subcommand's flags to its CLI11 App and returns the action to run once parsed.
// Actions return the process exit status: 0 ok, 1 a check or gate failed; bad input throws InputError (-> 2).
#pragma once
#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace g4::cli {

using Action = std::function<int()>;
using Setup = std::function<Action(CLI::App&)>;

struct CommandDef {
  std::string name;
  std::string summary;
  Setup setup;
};

std::vector<CommandDef>& command_registry();

struct RegisterCommand {
  RegisterCommand(std::string name, std::string summary, Setup setup) {
    command_registry().push_back({std::move(name), std::move(summary), std::move(setup)});
  }
};

}  // namespace g4::cli
