// net server + one client that writes, reads the reply and ends; compare with test_uv_tcp.c
const net = require('net');
const server = net.createServer((sock) => {
  log('connection');
  sock.on('data', (d) => { log('server data'); sock.write(d); });
  sock.on('end', () => { log('server end'); sock.end(); server.close(); });
});
server.listen(0, '127.0.0.1', () => {
  log('listening');
  const c = net.connect(server.address().port, '127.0.0.1', () => {
    log('connected');
    c.write('ping');
  });
  c.on('data', (d) => { log('client data'); c.end(); });
  c.on('close', () => log('client close'));
});
