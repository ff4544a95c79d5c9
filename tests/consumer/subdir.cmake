# add_subdirectory users: configure tests/consumer/subdir (which adds this source tree as a
# subdirectory, checks every uvotel:: name exists and links uvotel::uvotel_uv, uvotel::uvotel
# and, when built, uvotel::uvotel_exporters), build its consumers and run them.
file(REMOVE_RECURSE ${WORK_DIR})
execute_process(COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer/subdir -B ${WORK_DIR}
  -DUVOTEL_SOURCE=${SOURCE_DIR} -DUVOTEL_BUILD_EXPORTERS=${EXPORTERS} RESULT_VARIABLE rc
  OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring the add_subdirectory consumer failed: ${rc}")
endif()
set(targets consumer)
if(EXPORTERS)
  list(APPEND targets consumer_exporters)
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR} -j2 --target ${targets}
  RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building the add_subdirectory consumer failed: ${rc}")
endif()
foreach(t ${targets})
  execute_process(COMMAND ${WORK_DIR}/${t} RESULT_VARIABLE rc OUTPUT_VARIABLE out)
  if(NOT rc EQUAL 0 OR NOT out MATCHES "consumer ok")
    message(FATAL_ERROR "${t} failed: ${rc} ${out}")
  endif()
endforeach()
message("add_subdirectory consumer: ${targets} ok")
