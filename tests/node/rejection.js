process.on('unhandledRejection', (reason, p) => log('unhandledRejection ' + reason));
process.on('rejectionHandled', (p) => log('rejectionHandled'));
const a = Promise.reject('a');          // never handled
const b = Promise.reject('b');          // handled in the same tick: never reported
b.catch(() => log('b caught'));
const c = Promise.reject('c');          // handled later: reported, then rejectionHandled
setTimeout(() => { c.catch(() => log('c caught late')); }, 10);
Promise.resolve().then(() => { throw 'd'; });  // a derived promise rejected by a reaction
log('end of script');
