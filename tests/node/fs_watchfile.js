// fs.watchFile on a file that is then changed; compare with test_uv_fs_watch.c
const fs = require('fs');
const path = require('path');
const os = require('os');
const f = path.join(os.tmpdir(), `uvotel-node-${process.pid}.txt`);
fs.writeFileSync(f, 'a');
fs.watchFile(f, { interval: 20 }, () => {
  log('changed');
  fs.unwatchFile(f);
  fs.unlinkSync(f);
});
setTimeout(() => fs.writeFileSync(f, 'bb'), 100);
