process.on('unhandledRejection', (reason) => log('unhandledRejection ' + reason));
const inner = Promise.reject('inner');
const outer = new Promise((resolve) => resolve(inner));
const all = Promise.all([Promise.reject('part'), Promise.resolve()]);
