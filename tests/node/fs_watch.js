// fs.watch on a directory, one file written into it; compare with test_uv_fs_watch.c
const fs = require('fs');
const path = require('path');
const os = require('os');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'uvotel-node-'));
const w = fs.watch(dir, () => {
  log('change');
  w.close();
  fs.rmSync(dir, { recursive: true });
});
fs.writeFileSync(path.join(dir, 'f'), 'x');
