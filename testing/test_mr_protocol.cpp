// MR protocol files (docs/protocols.md, "MR protocol files"): what an MR analysis writes as
// protocol.json loads back to the same protocol and hash; every key is optional with the default
// of the region's built-in protocol; a bad file names itself and the key; a CT protocol file is
// recognised and refused.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "musclecsa/core/error.h"
#include "musclecsa/io/text_file.h"
#include "musclecsa/mri/mr_analysis.h"
#include "test_support.h"

using namespace musclecsa;
using musclecsa::testing::TempDir;

namespace {

/// Loads `text` from a file and returns the error it gives ("" when it loads).
std::string load_error(const TempDir& dir, const std::string& text, ErrorCode* code = nullptr) {
  const auto path = dir / "p.json";
  io::write_text_atomically(path, text);
  try {
    mri::load_mr_protocol(path);
  } catch (const Error& e) {
    if (code) *code = e.code();
    return e.what();
  }
  return "";
}

}  // namespace

TEST(MrProtocolFile, BuiltInProtocolsWrittenAsJsonLoadBackWithTheSameHash) {
  TempDir dir;
  for (const char* name : {"thigh-mr", "calf-mr"}) {
    const mri::MrProtocol builtin = mri::builtin_mr_protocol(name);
    const auto path = dir / (std::string(name) + ".json");
    // As analyze writes protocol.json: indented, keys sorted.
    io::write_text_atomically(path, nlohmann::json::parse(builtin.to_json()).dump(2) + "\n");
    const mri::MrProtocol loaded = mri::load_mr_protocol(path);
    EXPECT_EQ(loaded.to_json(), builtin.to_json()) << name;
    EXPECT_EQ(loaded.hash(), builtin.hash()) << name;
  }
  // Changed values survive the round trip too, and change the hash.
  mri::MrProtocol changed = mri::builtin_mr_protocol("calf-mr");
  changed.name = "calf-mr-strict";
  changed.compartments.name = changed.name;
  changed.fat_ff_threshold = 0.42;
  changed.n4.enabled = false;
  changed.swap_sectors = 12;
  changed.mercuri.grade_2a_below = 0.25;
  changed.compartments.muscles.fascia_layer_mm = 0.8;
  changed.compartments.adipose = {-180, -40};
  io::write_text_atomically(dir / "changed.json", nlohmann::json::parse(changed.to_json()).dump(2));
  const mri::MrProtocol loaded = mri::load_mr_protocol(dir / "changed.json");
  EXPECT_EQ(loaded.to_json(), changed.to_json());
  EXPECT_NE(loaded.hash(), mri::builtin_mr_protocol("calf-mr").hash());
}

TEST(MrProtocolFile, MissingKeysTakeTheDefaultsOfTheRegionsBuiltInProtocol) {
  TempDir dir;
  io::write_text_atomically(dir / "calf.json", R"({"format": "musclecsa-mr-protocol", "version": 1, "name": "my-calf",
    "region": "calf", "fat_ff_threshold": 0.3, "n4": {"iterations_per_level": 20},
    "compartments": {"muscles": {"intermuscular_fat_mm": 2.0}}})");
  const mri::MrProtocol p = mri::load_mr_protocol(dir / "calf.json");
  mri::MrProtocol expected = mri::builtin_mr_protocol("calf-mr");
  expected.name = expected.compartments.name = "my-calf";
  expected.fat_ff_threshold = 0.3;
  expected.n4.iterations_per_level = 20;
  expected.compartments.muscles.intermuscular_fat_mm = 2.0;
  EXPECT_EQ(p.to_json(), expected.to_json());
  // The MR compartment default (fascia layer 0.5 mm, not CT's 1.4 mm) is kept beside the change.
  EXPECT_DOUBLE_EQ(p.compartments.muscles.fascia_layer_mm, 0.5);
  EXPECT_EQ(p.compartments.level.bone_key, "tibia");
  // An empty object is the thigh protocol.
  io::write_text_atomically(dir / "empty.json", "{}");
  EXPECT_EQ(mri::load_mr_protocol(dir / "empty.json").hash(), mri::builtin_mr_protocol("thigh-mr").hash());
}

TEST(MrProtocolFile, BadFilesNameTheFileAndTheKey) {
  TempDir dir;
  const std::string file = (dir / "p.json").string();
  ErrorCode code{};
  struct Case {
    const char* text;
    const char* expected;
  };
  for (const Case& c : {
           Case{R"({"fat_ff_treshold": 0.4})", "unknown MR protocol key 'fat_ff_treshold'"},
           Case{R"({"fat_ff_threshold": "0.4"})", "'fat_ff_threshold' has the wrong type"},
           Case{R"({"fat_ff_threshold": 1.5})", "'fat_ff_threshold' must be above 0 and at most 1"},
           Case{R"({"n4": {"enabled": 1}})", "'n4.enabled' has the wrong type"},
           Case{R"({"n4": {"shrink_factor": 2.5}})", "'n4.shrink_factor' has the wrong type"},
           Case{R"({"n4": {"iteration": 3}})", "unknown MR protocol key 'n4.iteration'"},
           Case{R"({"swap_check": {"low_ff": 0.8, "high_ff": 0.7}})", "'swap_check.low_ff' must be below"},
           Case{R"({"swap_check": {"ring_depth_mm": [5, 2]}})", "'swap_check.ring_depth_mm' must be [from_mm, to_mm]"},
           Case{R"({"mercuri_suggestion": {"grade_2a_below_ff": 0.05}})", "must rise from grade 0-1"},
           Case{R"({"version": 2})", "version 2 is not supported"},
           Case{R"({"region": "arm"})", "'region' must be"},
           Case{R"({"name": 7})", "'name' has the wrong type"},
           Case{R"({"compartments": {"muscel_hu": [-29, 150]}})", "in 'compartments': unknown protocol key 'muscel_hu'"},
           Case{R"({"compartments": {"muscles": {"fascia_layer_mm": "thin"}}})", "in 'compartments': 'muscles.fascia_layer_mm' has the wrong type"},
           Case{R"({"compartments": {"region": "calf"}})", "'compartments.region' \"calf\" differs"},
           Case{R"({"compartments": 3})", "'compartments' must be an object"},
           Case{R"([1, 2])", "must be a JSON object"},
           Case{R"({"fat_ff_threshold": 0.4,)", "not valid JSON"},
           // A CT protocol file: by its format, or by its CT keys at the top level.
           Case{R"({"format": "musclecsa-ct-protocol", "region": "thigh"})", "a CT protocol file (format musclecsa-ct-protocol)"},
           Case{R"({"region": "thigh", "muscle_hu": [-29, 150]})", "'muscle_hu' is a CT protocol key"},
       }) {
    const std::string error = load_error(dir, c.text, &code);
    EXPECT_NE(error.find(file), std::string::npos) << c.text << " -> " << error;
    EXPECT_NE(error.find(c.expected), std::string::npos) << c.text << " -> " << error;
    EXPECT_EQ(code, ErrorCode::InvalidInput) << c.text;
  }
  try {
    mri::load_mr_protocol(dir / "missing.json");
    ADD_FAILURE() << "a missing file loaded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::InputNotFound);
  }
}

TEST(MrProtocolFile, MrFilesAreRecognisedByTheirFormat) {
  TempDir dir;
  io::write_text_atomically(dir / "mr.json", mri::builtin_mr_protocol("thigh-mr").to_json());
  io::write_text_atomically(dir / "ct.json", R"({"format": "musclecsa-ct-protocol"})");
  io::write_text_atomically(dir / "bad.json", "{");
  EXPECT_TRUE(mri::is_mr_protocol_file(dir / "mr.json"));
  EXPECT_FALSE(mri::is_mr_protocol_file(dir / "ct.json"));
  EXPECT_FALSE(mri::is_mr_protocol_file(dir / "bad.json"));
  EXPECT_FALSE(mri::is_mr_protocol_file(dir / "none.json"));
}
