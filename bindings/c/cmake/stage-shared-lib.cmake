# cmake -P: lay out the cargo-built libthetatree.so as it is installed, in DIR:
#   FILE (libthetatree.so.<ABI>.<version>, the real file)
#   SONAME (libthetatree.so.<ABI>) -> FILE
#   libthetatree.so -> SONAME      (the name `-lthetatree` finds at link time)
# and check that the library really carries DT_SONAME SONAME (set by build.rs from the header's
# TT_ABI_VERSION): a library whose SONAME disagrees with its file names would be found at link
# time and then missed by the loader. Variables: SRC DIR FILE SONAME.
cmake_minimum_required(VERSION 3.18)
foreach(var SRC DIR FILE SONAME)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "stage-shared-lib.cmake: -D${var}= is required")
  endif()
endforeach()

# The SONAME is a NUL-terminated string of .dynstr; no other string of the library equals it.
file(STRINGS "${SRC}" names REGEX "^libthetatree\\.so[.0-9]*$")
if(NOT SONAME IN_LIST names)
  message(FATAL_ERROR "${SRC} does not carry the SONAME ${SONAME} (found: ${names}); "
                      "build.rs derives it from TT_ABI_VERSION in include/thetatree.h: rebuild with cargo")
endif()

file(MAKE_DIRECTORY "${DIR}")
execute_process(COMMAND "${CMAKE_COMMAND}" -E copy "${SRC}" "${DIR}/${FILE}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cannot copy ${SRC} to ${DIR}/${FILE}")
endif()
file(CREATE_LINK "${FILE}" "${DIR}/${SONAME}" SYMBOLIC)
file(CREATE_LINK "${SONAME}" "${DIR}/libthetatree.so" SYMBOLIC)
