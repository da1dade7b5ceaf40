#pragma once
// Subcommands of the musclecsa binary. Each one is an options struct, a function that registers
// its options with CLI11, and a run function; main() only dispatches.

#include <CLI/CLI.hpp>
#include <functional>
#include <vector>

namespace musclecsa::app {

/// A registered subcommand and the function that runs it once its options are parsed.
struct Command {
  CLI::App* cli = nullptr;
  std::function<int()> run;
};

Command add_phantom_command(CLI::App& app);
Command add_report_command(CLI::App& app);
Command add_batch_command(CLI::App& app);
Command add_merge_command(CLI::App& app);
Command add_info_command(CLI::App& app);
Command add_analyze_command(CLI::App& app);
Command add_convert_command(CLI::App& app);
Command add_atlas_command(CLI::App& app);
Command add_retest_command(CLI::App& app);
/// `view` and `render` (cmd_view.cpp), appended to `commands`.
void add_view_commands(CLI::App& app, std::vector<Command>& commands);

}  // namespace musclecsa::app
