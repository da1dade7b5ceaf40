// The musclecsa binary as a user runs it: help, version, exit codes, error messages.

#include <gtest/gtest.h>

#include "musclecsa/io/text_file.h"
#include "test_support.h"

using musclecsa::testing::quoted;
using musclecsa::testing::run_command;
using musclecsa::testing::TempDir;

namespace {
const std::string kBinary = MUSCLECSA_BINARY;
}

TEST(Cli, VersionAndHelpExitZero) {
  const auto version = run_command(kBinary + " --version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_NE(version.output.find("musclecsa 0."), std::string::npos) << version.output;
  const auto help = run_command(kBinary + " --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("phantom"), std::string::npos);
  EXPECT_EQ(run_command(kBinary + " phantom --help").exit_code, 0);
}

TEST(Cli, UsageErrorsExitWithCode2AndSayWhatIsWrong) {
  const auto none = run_command(kBinary);
  EXPECT_EQ(none.exit_code, 2);
  const auto bad = run_command(kBinary + " phantom --anatomy knee --modality ct --out /tmp/x");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("knee"), std::string::npos) << bad.output;
  const auto missing = run_command(kBinary + " phantom --out /tmp/x");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("--anatomy"), std::string::npos) << missing.output;
  const auto range = run_command(kBinary + " phantom --anatomy thigh --modality ct --muscle-area-scale 9 --out /tmp/x");
  EXPECT_EQ(range.exit_code, 2);
  EXPECT_NE(range.output.find("muscle-area-scale"), std::string::npos) << range.output;
  const auto infiltrate = run_command(kBinary + " phantom --anatomy thigh --modality ct --infiltrate soleus --out /tmp/x");
  EXPECT_EQ(infiltrate.exit_code, 2);
  EXPECT_NE(infiltrate.output.find("MUSCLE=FRACTION"), std::string::npos) << infiltrate.output;
}

// An unknown command is named, exit code 2, with or without --help (issue 21: CLI11 answered "A
// subcommand is required", and with --help printed the main help and exited 0).
TEST(Cli, AnUnknownCommandIsNamedWithOrWithoutHelp) {
  for (const std::string arguments : {" frobnicate", " frobnicate --help", " frobnicate x --out y"}) {
    const auto r = run_command(kBinary + arguments);
    EXPECT_EQ(r.exit_code, 2) << arguments << ": " << r.output;
    EXPECT_NE(r.output.find("musclecsa: error: frobnicate: unknown command (the commands are info, analyze"), std::string::npos)
        << r.output;
    EXPECT_EQ(r.output.find("Exit codes: docs/exit-codes.md"), std::string::npos) << "no main help: " << r.output;
  }
  EXPECT_EQ(run_command(kBinary + " analyze --help").exit_code, 0);
  EXPECT_EQ(run_command(kBinary + " --help analyze").exit_code, 0);
}

TEST(Cli, BadPresetExitsWithCode4NamingTheFile) {
  TempDir dir;
  musclecsa::io::write_text_atomically(dir / "preset.json", "{ not json");
  const auto r = run_command(kBinary + " phantom --preset " + quoted(dir / "preset.json") + " --out " + quoted(dir / "out"));
  EXPECT_EQ(r.exit_code, 4) << r.output;
  EXPECT_NE(r.output.find("preset.json"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir / "out"));
}

TEST(Cli, UnwritableOutputExitsWithCode5NamingThePath) {
  TempDir dir;
  musclecsa::io::write_text_atomically(dir / "file", "a file, not a folder");
  const auto r = run_command(kBinary + " phantom --anatomy thigh --modality us --out " + quoted(dir / "file" / "out"));
  EXPECT_EQ(r.exit_code, 5) << r.output;
  EXPECT_NE(r.output.find("file/out"), std::string::npos) << r.output;
}

TEST(Cli, PhantomCommandWritesSeriesTruthAndPrintsTheLevelTable) {
  TempDir dir;
  const auto r = run_command(kBinary + " phantom --anatomy calf --modality ct --columns 128 --slices 5 --seed 4 --out " +
                             quoted(dir / "calf"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("tibia_66pct_from_distal"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Soleus"), std::string::npos) << r.output;
  EXPECT_TRUE(std::filesystem::exists(dir / "calf/dicom/ct/IM_00005.dcm"));
  EXPECT_TRUE(std::filesystem::exists(dir / "calf/truth/labels.nii.gz"));
  EXPECT_TRUE(std::filesystem::exists(dir / "calf/truth/truth.json"));
  EXPECT_TRUE(std::filesystem::exists(dir / "calf/phantom.json"));
  // Nothing half-written is left behind.
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir / "calf"))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}
