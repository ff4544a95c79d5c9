# The test `tests_declared`: every tests/{unit,integration}/test_*.c must be declared with
# uvotel_test() in tests/CMakeLists.txt (that is where THREADS puts it under TSan).
if(UNDECLARED)
  string(REPLACE "," " " names "${UNDECLARED}")
  message(FATAL_ERROR "tests not declared in tests/CMakeLists.txt: ${names}\n"
    "add a line uvotel_test(<name> [THREADS] [EXPORTERS] [EXAMPLES]) for each "
    "(THREADS when its code crosses threads)")
endif()
message("every test is declared")
