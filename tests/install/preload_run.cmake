# Install the build tree to a scratch prefix, then run a plain libuv program under the
# installed libuvotel_preload.so exactly as the README says (no LD_LIBRARY_PATH): the installed
# libraries must find each other through their $ORIGIN RUNPATH.
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix
  RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "install failed: ${rc}")
endif()
set(so ${WORK_DIR}/prefix/${LIBDIR}/libuvotel_preload.so)
if(NOT EXISTS ${so})
  message(FATAL_ERROR "not installed: ${so}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E env --unset=LD_LIBRARY_PATH --unset=ASAN_OPTIONS
    LD_PRELOAD=${so} OTEL_SERVICE_NAME=installed-preload UVOTEL_INSTRUMENT=all
    OTEL_TRACES_EXPORTER=file OTEL_EXPORTER_FILE_PATH=${WORK_DIR}/spans.jsonl
    ${PROG} ${INPUT}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
message("${out}${err}")
if(NOT rc EQUAL 0 OR NOT out MATCHES "loop close 0")
  message(FATAL_ERROR "the program under the installed preload failed: ${rc}")
endif()
if(err MATCHES "cannot open shared object")
  message(FATAL_ERROR "the installed preload could not load its libraries")
endif()
file(READ ${WORK_DIR}/spans.jsonl spans)
if(NOT spans MATCHES "\"fs open\"" OR NOT spans MATCHES "installed-preload")
  message(FATAL_ERROR "no spans from the installed preload")
endif()
message("installed preload: spans written")
