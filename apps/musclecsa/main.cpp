// musclecsa: one binary, subcommands registered by apps/musclecsa/cmd_*.cpp.

#include <iostream>
#include <string>
#include <vector>

#include "commands.h"
#include "musclecsa/core/error.h"
#include "musclecsa/version.h"

int main(int argc, char** argv) {
  CLI::App app{"MuscleCSA " MUSCLECSA_VERSION_STRING
               ": skeletal muscle cross-sectional area and infiltration from CT, MRI and ultrasound"};
  app.set_version_flag(
      "--version",
      "musclecsa " MUSCLECSA_VERSION_STRING
      "\nReal-anatomy atlases (data/atlas, docs/atlas.md) derived from:"
      "\n  Denver Visible Human lower-limb surfaces, CC BY 4.0: Andreassen TE et al., Three dimensional lower extremity"
      "\n  musculoskeletal geometry of the Visible Human Female and Male, Sci Data 10:34 (2023),"
      "\n  doi:10.1038/s41597-022-01905-2; dataset doi:10.56902/COB.vh.2022.0"
      "\n  BMFToolkit Visible Human Female bones (zlib), thigh label maps and Dixon reference labels (Apache-2.0)");
  app.require_subcommand(1);
  app.footer("Exit codes: docs/exit-codes.md. Each command has --help.");

  std::vector<musclecsa::app::Command> commands = {
      musclecsa::app::add_info_command(app),
      musclecsa::app::add_analyze_command(app),
      musclecsa::app::add_convert_command(app),
      musclecsa::app::add_phantom_command(app),
      musclecsa::app::add_report_command(app),
      musclecsa::app::add_batch_command(app),
      musclecsa::app::add_merge_command(app),
      musclecsa::app::add_atlas_command(app),
      musclecsa::app::add_retest_command(app),
  };
  musclecsa::app::add_view_commands(app, commands);

  // An unknown command is named (CLI11 answers "A subcommand is required", and with --help prints
  // the main help and exits 0). Only --help and --version come before a command, and take no value.
  if (argc > 1 && argv[1][0] != '-') {
    std::string known;
    bool found = false;
    for (const CLI::App* command : app.get_subcommands([](CLI::App*) { return true; })) {
      found = found || command->check_name(argv[1]);
      known += (known.empty() ? "" : ", ") + command->get_name();
    }
    if (!found) {
      std::cerr << "musclecsa: error: " << argv[1] << ": unknown command (the commands are " << known
                << "; musclecsa --help describes them)\n";
      return musclecsa::exit_code_for(musclecsa::ErrorCode::InvalidArgument);
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);  // prints help, version or the parse error
    return code == 0 ? 0 : musclecsa::exit_code_for(musclecsa::ErrorCode::InvalidArgument);
  }
  try {
    for (const auto& command : commands)
      if (command.cli->parsed()) return command.run();
    return musclecsa::exit_code_for(musclecsa::ErrorCode::InvalidArgument);
  } catch (const musclecsa::Error& e) {
    std::cerr << "musclecsa: error: " << e.what() << "\n";
    return musclecsa::exit_code_for(e.code());
  } catch (const std::bad_alloc&) {
    std::cerr << "musclecsa: error: out of memory\n";
    return musclecsa::exit_code_for(musclecsa::ErrorCode::Internal);
  } catch (const std::exception& e) {
    std::cerr << "musclecsa: internal error: " << e.what() << "\n";
    return musclecsa::exit_code_for(musclecsa::ErrorCode::Internal);
  }
}
