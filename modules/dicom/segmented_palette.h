#pragma once
// Checks the Segmented Palette Color Lookup Table Data of a palette-colour file before GDCM
// expands it (DCMTK does not support segmented palettes; load.cpp decodes them with GDCM).

#include <filesystem>

namespace musclecsa::dicom::detail {

/// GDCM 3.0 expands segmented palettes without bounds checks: a discrete segment whose count runs
/// past the data is read past its end (found by fuzzing: SIGSEGV), an indirect segment copying more
/// segments than follow its target asserts, one referring to itself recurses without end, and
/// 8-bit segmented tables assert. Throws Error(InvalidInput, path, ...) for each of these; a file
/// without segmented tables is left alone. The expanded length against the descriptor's number of
/// entries is not checked here.
void check_segmented_palette(const std::filesystem::path& path);

}  // namespace musclecsa::dicom::detail
