/* An LD_PRELOAD library that does nothing: test_preload_children checks that the preload
 * leaves other LD_PRELOAD entries to the children. */
int uvotel_test_marker(void);
int uvotel_test_marker(void) {
  return 1;
}
