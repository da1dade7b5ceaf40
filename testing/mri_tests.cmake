# MRI analysis (docs/mri.md): Dixon and T1-weighted phantoms against their ground truth (accuracy,
# swaps, bias field, bad input), MR protocol files, and the command line on Dixon and T1 input (DICOM
# and NIfTI) with every output (SR and HTML included).
musclecsa_add_test(mri_tests SOURCES test_mr_dixon.cpp test_mr_weighted.cpp test_mr_protocol.cpp
                   LIBS musclecsa::mri musclecsa::phantom musclecsa::segment musclecsa::quantify musclecsa::io
                        nlohmann_json::nlohmann_json)
musclecsa_add_test(mri_cli_tests SOURCES test_mr_cli.cpp
                   LIBS musclecsa::io musclecsa::phantom musclecsa::report nlohmann_json::nlohmann_json)
target_compile_definitions(mri_cli_tests PRIVATE SHARED_DATA_DIR="${PROJECT_SOURCE_DIR}/../shared/data")
add_dependencies(mri_cli_tests musclecsa)
