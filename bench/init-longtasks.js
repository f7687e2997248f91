// Installed with Playwright's add_init_script before any page script runs: records every
// main-thread long task (the Long Tasks API reports tasks of 50 ms or more).
(() => {
  const entries = [];
  Object.defineProperty(window, '__benchLongTasks', { value: entries });
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) entries.push({ start: e.startTime, duration: e.duration, name: e.name });
    }).observe({ type: 'longtask', buffered: true });
  } catch {
    // No Long Tasks API: the bench reports no long tasks.
  }
})();
