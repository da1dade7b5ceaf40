# Ultrasound analysis: the module against phantom truth and known values (in-process), and the
# musclecsa analyze command on phantom DICOM, pictures and the real images in ../shared/data/us.
musclecsa_add_test(ultrasound_tests SOURCES test_us_analysis.cpp test_us_cli.cpp
                   LIBS musclecsa::ultrasound musclecsa::phantom musclecsa::dicom musclecsa::io nlohmann_json::nlohmann_json)
target_compile_definitions(ultrasound_tests PRIVATE SHARED_DATA_DIR="${PROJECT_SOURCE_DIR}/../shared/data")
add_dependencies(ultrasound_tests musclecsa)
