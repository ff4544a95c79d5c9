# ---- OTLP/HTTP exporter (included from exporters/CMakeLists.txt) ----
# Dependencies through pkg-config; the same checks are written into the installed CMake package
# (uvotelExporterDeps.cmake) so find_package(uvotel) recreates the imported targets.
pkg_check_modules(PROTOBUFC REQUIRED IMPORTED_TARGET libprotobuf-c>=1.3)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl>=7.62)
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
find_program(UVOTEL_PROTOC_C protoc-c REQUIRED)

# C for our own .proto files, generated at build time into the build tree (never committed).
set(UVOTEL_OTLP_PROTO_DIR ${CMAKE_CURRENT_SOURCE_DIR}/otlp/proto)
set(UVOTEL_OTLP_GEN_DIR ${CMAKE_CURRENT_BINARY_DIR}/otlp-gen)
set(UVOTEL_OTLP_PROTOS
  opentelemetry/proto/common/v1/common
  opentelemetry/proto/resource/v1/resource
  opentelemetry/proto/trace/v1/trace
  opentelemetry/proto/collector/trace/v1/trace_service)
set(UVOTEL_OTLP_PROTO_FILES "")
set(UVOTEL_OTLP_GEN_SOURCES "")
set(UVOTEL_OTLP_GEN_HEADERS "")
foreach(p ${UVOTEL_OTLP_PROTOS})
  list(APPEND UVOTEL_OTLP_PROTO_FILES ${UVOTEL_OTLP_PROTO_DIR}/${p}.proto)
  list(APPEND UVOTEL_OTLP_GEN_SOURCES ${UVOTEL_OTLP_GEN_DIR}/${p}.pb-c.c)
  list(APPEND UVOTEL_OTLP_GEN_HEADERS ${UVOTEL_OTLP_GEN_DIR}/${p}.pb-c.h)
endforeach()
add_custom_command(
  OUTPUT ${UVOTEL_OTLP_GEN_SOURCES} ${UVOTEL_OTLP_GEN_HEADERS}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${UVOTEL_OTLP_GEN_DIR}
  COMMAND ${UVOTEL_PROTOC_C} --c_out=${UVOTEL_OTLP_GEN_DIR} -I ${UVOTEL_OTLP_PROTO_DIR}
          ${UVOTEL_OTLP_PROTO_FILES}
  DEPENDS ${UVOTEL_OTLP_PROTO_FILES}
  COMMENT "protoc-c: OTLP trace messages"
  VERBATIM)

# protobuf-c's generated code plus everything of the exporter that does not call the SDK's
# tracing functions: shared by libuvotel_exporters and, as a static library, by the loopback
# receiver and the transport tests (tests/support).
add_library(uvotel_otlp_proto OBJECT ${UVOTEL_OTLP_GEN_SOURCES})
target_include_directories(uvotel_otlp_proto PUBLIC ${UVOTEL_OTLP_GEN_DIR})
target_link_libraries(uvotel_otlp_proto PUBLIC PkgConfig::PROTOBUFC)
target_compile_options(uvotel_otlp_proto PRIVATE -Wno-unused-parameter)

set(UVOTEL_OTLP_TRANSPORT_SOURCES
  ${CMAKE_CURRENT_SOURCE_DIR}/otlp/options.c
  ${CMAKE_CURRENT_SOURCE_DIR}/otlp/gzip.c
  ${CMAKE_CURRENT_SOURCE_DIR}/otlp/http.c)
set(UVOTEL_OTLP_SOURCES ${UVOTEL_OTLP_TRANSPORT_SOURCES}
  ${CMAKE_CURRENT_SOURCE_DIR}/otlp/encode.c
  ${CMAKE_CURRENT_SOURCE_DIR}/otlp/exporter.c)

# (encode.c uses the shared grouping walk and UTF-8 repair of src/, which libuvotel_exporters
# compiles anyway; the static library takes its own copies.)
add_library(uvotel_otlp_internal STATIC ${UVOTEL_OTLP_TRANSPORT_SOURCES}
  ${CMAKE_CURRENT_SOURCE_DIR}/otlp/encode.c ${CMAKE_CURRENT_SOURCE_DIR}/src/groups.c
  ${CMAKE_CURRENT_SOURCE_DIR}/src/utf8.c $<TARGET_OBJECTS:uvotel_otlp_proto>)
target_include_directories(uvotel_otlp_internal PUBLIC
  ${UVOTEL_OTLP_GEN_DIR} ${CMAKE_CURRENT_SOURCE_DIR}/otlp ${CMAKE_CURRENT_SOURCE_DIR}/include)
target_link_libraries(uvotel_otlp_internal PUBLIC uvotel PkgConfig::PROTOBUFC PkgConfig::CURL
  PkgConfig::ZLIB PkgConfig::LIBUV Threads::Threads)

# Into libuvotel_exporters (shared and static, whichever the tracing work defines).
foreach(tgt uvotel_exporters uvotel_exporters_static)
  if(TARGET ${tgt})
    target_sources(${tgt} PRIVATE ${UVOTEL_OTLP_SOURCES} ${UVOTEL_OTLP_GEN_SOURCES})
    target_include_directories(${tgt} PRIVATE ${UVOTEL_OTLP_GEN_DIR}
      ${CMAKE_CURRENT_SOURCE_DIR}/otlp)
    target_link_libraries(${tgt} PRIVATE PkgConfig::PROTOBUFC PkgConfig::CURL PkgConfig::ZLIB)
    set_source_files_properties(${UVOTEL_OTLP_GEN_SOURCES} TARGET_DIRECTORY ${tgt}
      PROPERTIES COMPILE_OPTIONS -Wno-unused-parameter)
  endif()
endforeach()

# Installed package: recreate the pkg-config imported targets the exported targets name.
file(WRITE ${PROJECT_BINARY_DIR}/uvotelExporterDeps.cmake
"# Generated: dependencies of libuvotel_exporters (OTLP/HTTP exporter).
find_dependency(PkgConfig)
pkg_check_modules(PROTOBUFC REQUIRED IMPORTED_TARGET libprotobuf-c>=1.3)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl>=7.62)
pkg_check_modules(ZLIB REQUIRED IMPORTED_TARGET zlib)
")
install(FILES ${PROJECT_BINARY_DIR}/uvotelExporterDeps.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/uvotel)

# pkg-config for libuvotel_exporters, with the OTLP exporter's dependencies for static links
# (relocatable like the others: UVOTEL_PC_* in the top-level CMakeLists.txt).
configure_file(${PROJECT_SOURCE_DIR}/cmake/uvotel-exporters.pc.in
  ${PROJECT_BINARY_DIR}/uvotel-exporters.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/uvotel-exporters.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
