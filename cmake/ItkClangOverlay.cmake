# Debian's ITK 5.2 headers know only the compiler ITK was built with (GCC): itk_compiler_detection.h
# stops with "Unsupported compiler" under clang. For the fuzz build (clang), an overlay of the ITK
# include folder is made in the build tree: links to every header, except that header and the GCC
# feature table it includes, which are copied with clang let through as a GCC 12 (clang 14 has
# every C++ feature the table asks about). The overlay is put before ITK's own include folder.
function(musclecsa_itk_clang_overlay itk_include_dir out_var)
  set(overlay ${CMAKE_BINARY_DIR}/itk-clang-overlay)
  if(NOT EXISTS ${overlay}/itk_compiler_detection.h)
    file(MAKE_DIRECTORY ${overlay}/compilers)
    file(GLOB entries RELATIVE ${itk_include_dir} ${itk_include_dir}/* ${itk_include_dir}/compilers/*)
    foreach(entry IN LISTS entries)
      if(entry STREQUAL "compilers" OR entry STREQUAL "itk_compiler_detection.h"
         OR entry STREQUAL "compilers/ITK_COMPILER_INFO_GNU_CXX.h")
        continue()
      endif()
      file(CREATE_LINK ${itk_include_dir}/${entry} ${overlay}/${entry} SYMBOLIC)
    endforeach()
    file(READ ${itk_include_dir}/itk_compiler_detection.h text)
    string(REPLACE "#  if ITK_COMPILER_IS_GNU\n" "#  if ITK_COMPILER_IS_GNU || ITK_COMPILER_IS_Clang\n" text "${text}")
    file(WRITE ${overlay}/itk_compiler_detection.h "${text}")
    file(READ ${itk_include_dir}/compilers/ITK_COMPILER_INFO_GNU_CXX.h text)
    string(REPLACE "(__GNUC__ * 100 + __GNUC_MINOR__)" "1200" text "${text}")
    file(WRITE ${overlay}/compilers/ITK_COMPILER_INFO_GNU_CXX.h "${text}")
  endif()
  set(${out_var} ${overlay} PARENT_SCOPE)
endfunction()
