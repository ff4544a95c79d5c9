// process.on('SIGUSR1') then one SIGUSR1 to ourselves (a timer keeps the loop alive: Node's
// signal handles are unreferenced); compare with test_uv_signal.c
const keep = setTimeout(() => {}, 5000);
const onSig = () => {
  log('signal');
  process.removeListener('SIGUSR1', onSig);
  clearTimeout(keep);
};
process.on('SIGUSR1', onSig);
process.kill(process.pid, 'SIGUSR1');
