# The viewer and offscreen rendering (issue #8, docs/viewer.md). render_model_tests run the model
# in-process; render_cli_tests and viewer_tests run `musclecsa render` and `musclecsa view --script`
# and need an X server: ctest runs under xvfb-run (scripts/test). Without one they fail, never skip.
musclecsa_add_test(render_model_tests SOURCES test_render_model.cpp
                   LIBS musclecsa::render musclecsa::io nlohmann_json::nlohmann_json)
find_package(OpenCV 4 REQUIRED COMPONENTS core imgcodecs)
musclecsa_add_test(viewer_tests SOURCES test_viewer_case.cpp test_render_cli.cpp test_viewer_script.cpp
                   LIBS musclecsa::io nlohmann_json::nlohmann_json opencv_core opencv_imgcodecs)
add_dependencies(viewer_tests musclecsa)
