# The viewer and offscreen rendering (issue #8, docs/viewer.md). render_model_tests run the model
# in-process; viewer_tests run `musclecsa render` and `musclecsa view --script` and need an X
# server: ctest runs under xvfb-run (scripts/test). Without one they fail, never skip.
musclecsa_add_test(render_model_tests SOURCES test_render_model.cpp
                   LIBS musclecsa::render musclecsa::io nlohmann_json::nlohmann_json)

# viewer_tests share one X server (xvfb-run starts one for the whole ctest run). An Xvfb started
# without -noreset resets whenever its last client leaves and refuses connections meanwhile; each
# viewer_tests process therefore holds a connection of its own while its test runs
# (test_viewer_case.cpp), so the musclecsa processes a test starts never meet a reset, however the
# server was started. x_connection_spy (LD_PRELOAD) logs a process' X connections, for the tests
# that check musclecsa itself never leaves the server without one while it draws.
find_package(OpenCV 4 REQUIRED COMPONENTS core imgcodecs)
add_library(x_connection_spy MODULE tools/x_connection_spy.cpp)
target_link_libraries(x_connection_spy PRIVATE ${CMAKE_DL_LIBS} musclecsa_warnings)
add_executable(viewer_tests test_viewer_case.cpp test_render_cli.cpp test_viewer_script.cpp)
target_link_libraries(viewer_tests PRIVATE musclecsa::io nlohmann_json::nlohmann_json opencv_core opencv_imgcodecs X11
                      GTest::gtest_main musclecsa_warnings)
target_include_directories(viewer_tests PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
target_compile_definitions(viewer_tests PRIVATE MUSCLECSA_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                           MUSCLECSA_BINARY="$<TARGET_FILE:musclecsa>"
                           X_CONNECTION_SPY="$<TARGET_FILE:x_connection_spy>")
gtest_discover_tests(viewer_tests DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 600)
add_dependencies(viewer_tests musclecsa x_connection_spy)
