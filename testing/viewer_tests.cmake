# The viewer and offscreen rendering (issue #8, docs/viewer.md). render_model_tests run the model
# in-process; viewer_tests run `musclecsa render` and `musclecsa view --script` and need an X
# server: ctest runs under xvfb-run (scripts/test). Without one they fail, never skip.
musclecsa_add_test(render_model_tests SOURCES test_render_model.cpp
                   LIBS musclecsa::render musclecsa::io nlohmann_json::nlohmann_json)

# viewer_tests share one X server (xvfb-run starts one for the whole ctest run): they take turns
# (RESOURCE_LOCK x_display), since several OpenGL clients connecting at once to a busy Xvfb were
# seen to be refused. Declared here rather than with musclecsa_add_test for that property.
find_package(OpenCV 4 REQUIRED COMPONENTS core imgcodecs)
add_executable(viewer_tests test_viewer_case.cpp test_render_cli.cpp test_viewer_script.cpp)
target_link_libraries(viewer_tests PRIVATE musclecsa::io nlohmann_json::nlohmann_json opencv_core opencv_imgcodecs
                      GTest::gtest_main musclecsa_warnings)
target_include_directories(viewer_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(viewer_tests PRIVATE MUSCLECSA_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                           MUSCLECSA_BINARY="$<TARGET_FILE:musclecsa>")
gtest_discover_tests(viewer_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 600 RESOURCE_LOCK x_display)
add_dependencies(viewer_tests musclecsa)
