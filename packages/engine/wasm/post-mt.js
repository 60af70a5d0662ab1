// Appended to the pthread build's glue (emscripten --post-js, so PThread is in scope). In Node, emscripten
// 3.1.6 leaves the pool's worker_threads referenced, which keeps a finished process alive; the loader calls
// this once the pool is up.
Module['hearthUnrefWorkers'] = function () {
  if (typeof PThread === 'undefined') return;
  PThread.unusedWorkers.concat(PThread.runningWorkers).forEach(function (w) {
    if (w && typeof w.unref === 'function') w.unref();
  });
};
