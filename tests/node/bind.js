const { AsyncResource, AsyncLocalStorage } = require('async_hooks');
const als = new AsyncLocalStorage();
let listener;
als.run('conn-a', () => {
  listener = AsyncResource.bind(function () { log('bound sees ' + als.getStore()); });
});
log('top sees ' + als.getStore());
listener();
listener();
log('exit: ' + als.run('x', () => als.exit(() => String(als.getStore()))));
