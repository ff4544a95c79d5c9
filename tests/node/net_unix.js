// net over a unix socket: server + one client that writes, reads the reply and ends;
// compare with test_uv_pipe.c
const net = require('net');
const path = require('path');
const os = require('os');
const fs = require('fs');
const sock = path.join(os.tmpdir(), `uvotel-node-${process.pid}.sock`);
try { fs.unlinkSync(sock); } catch (e) {}
const server = net.createServer((s) => {
  log('connection');
  s.on('data', (d) => { log('server data'); s.write(d); });
  s.on('end', () => { log('server end'); s.end(); server.close(); });
});
server.listen(sock, () => {
  log('listening');
  const c = net.connect(sock, () => { log('connected'); c.write('ping'); });
  c.on('data', () => { log('client data'); c.end(); });
  c.on('close', () => log('client close'));
});
