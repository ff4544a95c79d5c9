// fs.open + fs.close; compare with tests/unit/test_uv_fs.c
const fs = require('fs');
fs.open(__filename, 'r', (err, fd) => {
  log('open cb');
  fs.close(fd, () => log('close cb'));
});
