#pragma once
// The case folder of an MRI analysis (mr_outputs.cpp; docs/mri.md "Outputs"). Private to the pipeline.

#include <nlohmann/json.hpp>

#include "musclecsa/pipeline/input.h"
#include "musclecsa/mri/mr_analysis.h"

namespace musclecsa::pipeline {

struct AnalyzeOptions;

/// SEG and SR reference the DICOM images (the water series of a Dixon set): refuses them, before
/// any work, for other input.
void check_dicom_formats(const AnalyzeOptions& o, const LoadedInput& in);

/// Writes results.json (`mri_input`: the series used and how they were paired), results.csv, the
/// label map and its names, the FF map, protocol.json, the QC images and the formats asked for
/// (seg, sr, html) into o.out, then prints the level table.
void write_mr_outputs(const AnalyzeOptions& o, const LoadedInput& in, const mri::MrAnalysis& a, const nlohmann::json& mri_input);

}  // namespace musclecsa::pipeline
