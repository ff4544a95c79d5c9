// dgram: a bound receiver and a sender; one datagram and its reply; compare with test_uv_udp.c
const dgram = require('dgram');
const server = dgram.createSocket('udp4');
server.on('message', (msg, rinfo) => {
  log('server message');
  server.send(msg, rinfo.port, '127.0.0.1', () => {
    log('server sent');
    server.close();
  });
});
server.bind(0, '127.0.0.1', () => {
  log('bound');
  const client = dgram.createSocket('udp4');
  client.on('message', () => { log('client message'); client.close(); });
  client.send('ping', server.address().port, '127.0.0.1', () => log('client sent'));
});
