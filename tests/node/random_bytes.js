// crypto.randomBytes with a callback; compare with test_uv_random.c
const crypto = require('crypto');
crypto.randomBytes(16, (err, buf) => log(`random ${buf.length}`));
