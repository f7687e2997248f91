// Installed with Playwright's add_init_script before any page script runs: records every
// main-thread long task (the Long Tasks API reports tasks of 50 ms or more), and the long
// animation frames (LoAF) around them, whose script entries say which script ran.
(() => {
  const entries = [];
  const frames = [];
  Object.defineProperty(window, '__benchLongTasks', { value: entries });
  Object.defineProperty(window, '__benchLongFrames', { value: frames });
  const observe = (type, onEntry) => {
    try {
      new PerformanceObserver((list) => list.getEntries().forEach(onEntry)).observe({ type, buffered: true });
    } catch {
      // Not supported: the bench reports none.
    }
  };
  observe('longtask', (e) => entries.push({ start: e.startTime, duration: e.duration, name: e.name }));
  observe('long-animation-frame', (e) =>
    frames.push({
      start: e.startTime,
      end: e.startTime + e.duration,
      scripts: e.scripts.map((s) => ({
        source: s.sourceURL.split('/').slice(-2).join('/'),
        invoker: s.invoker,
        duration: Math.round(s.duration),
        compile: Math.round(s.executionStart - s.startTime), // parsing/compiling before it ran
      })),
    }),
  );
})();
