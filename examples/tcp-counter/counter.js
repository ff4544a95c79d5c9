// The Node.js version of tcp-counter: each connection's counter in AsyncLocalStorage, entered
// in the connection listener. Fails (nodejs/node#37866): 'data' handlers do not see the store.
const net = require('net');
const { AsyncLocalStorage } = require('async_hooks');
const als = new AsyncLocalStorage();

const server = net.createServer((socket) => {
  als.enterWith({ count: 0 });                  // this connection's state
  socket.on('data', (data) => {
    const state = als.getStore();               // undefined: the store is lost here
    if (!state) { socket.end('no store\n'); return; }
    for (const ch of data) if (ch === 10) socket.write(++state.count + '\n');
  });
});
server.listen(0, '127.0.0.1', () => {
  const c = net.connect(server.address().port, '127.0.0.1', () => c.write('hello\n'));
  c.on('data', (d) => { console.log('reply: ' + String(d).trim()); c.end(); server.close(); });
});
