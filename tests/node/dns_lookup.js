// dns.lookup; compare with tests/unit/test_uv_dns.c
const dns = require('dns');
dns.lookup('localhost', { family: 4 }, (err, addr) => log('lookup cb ' + addr));
