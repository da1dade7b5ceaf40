# Compiler settings shared by every MuscleCSA target.

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM)
  set(CMAKE_C_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()

# -O2 rather than CMake's default -O3: ITK-heavy files compile faster and use less memory.
set(CMAKE_CXX_FLAGS_RELEASE "-O2 -DNDEBUG" CACHE STRING "" FORCE)
set(CMAKE_C_FLAGS_RELEASE "-O2 -DNDEBUG" CACHE STRING "" FORCE)

option(MUSCLECSA_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)

add_library(musclecsa_warnings INTERFACE)
# -Wno-restrict: GCC 12 false positive on std::string concatenation at -O2 (GCC PR 105329).
target_compile_options(musclecsa_warnings INTERFACE -Wall -Wextra -Wpedantic -Wno-unused-parameter
                       $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local -Wno-restrict>)

if(MUSCLECSA_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# Fuzzing (preset "fuzz", clang only): the project's own code is instrumented for libFuzzer's
# coverage and built with ASan + UBSan; Debian's ITK, DCMTK and GDCM are linked as they are.
# Only the readers and the fuzz targets are built (testing/fuzz/, docs/fuzzing.md).
option(MUSCLECSA_FUZZ "Build the libFuzzer targets (clang) instead of the whole project" OFF)
if(MUSCLECSA_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "MUSCLECSA_FUZZ needs clang (cmake --preset fuzz)")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined -gline-tables-only)
  add_link_options(-fsanitize=address,undefined)
endif()

# musclecsa_add_module(NAME SOURCES ... PUBLIC_DEPS ... PRIVATE_DEPS ...)
# A module is a static library musclecsa_<NAME> whose public headers live in include/musclecsa/<NAME>/.
function(musclecsa_add_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;PUBLIC_DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(musclecsa_${name} STATIC ${ARG_SOURCES})
  add_library(musclecsa::${name} ALIAS musclecsa_${name})
  target_include_directories(musclecsa_${name}
    PUBLIC ${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/generated
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(musclecsa_${name} PUBLIC ${ARG_PUBLIC_DEPS} PRIVATE ${ARG_PRIVATE_DEPS} musclecsa_warnings)
endfunction()
