# scripts/bench us: ultrasound analysis of one 1456x819 panoramic picture (../shared/data/us) in
# process, one thread, against OpenCV reading and blurring the same picture in the same run.
find_package(OpenCV 4 REQUIRED COMPONENTS core imgproc imgcodecs)
add_executable(bench_us bench_us.cpp)
target_link_libraries(bench_us PRIVATE musclecsa_bench_support musclecsa::ultrasound musclecsa::io
                      opencv_core opencv_imgproc opencv_imgcodecs)
target_compile_definitions(bench_us PRIVATE SHARED_DATA_DIR="${PROJECT_SOURCE_DIR}/../shared/data")
