// child_process.spawn of /bin/true with stdio ignored; compare with test_uv_process.c
const { spawn } = require('child_process');
const c = spawn('/bin/true', [], { stdio: 'ignore' });
c.on('exit', (code) => log(`exit ${code}`));
