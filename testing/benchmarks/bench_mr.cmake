# scripts/bench mr: musclecsa analyze on a 512x512x60 Dixon phantom (water + fat series) against
# dcm2niix -z n converting the same two series; wall-time ratio and peak memory.
add_executable(bench_mr ${CMAKE_CURRENT_LIST_DIR}/bench_mr.cpp)
target_link_libraries(bench_mr PRIVATE musclecsa_bench_support)
target_compile_definitions(bench_mr PRIVATE
  MUSCLECSA_BINARY="$<TARGET_FILE:musclecsa>" DCM2NIIX_EXECUTABLE="${DCM2NIIX_EXECUTABLE}"
  MUSCLECSA_BENCH_DIR="${CMAKE_BINARY_DIR}/bench-data")
add_dependencies(bench_mr musclecsa)
