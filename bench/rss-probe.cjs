// Preloaded into a benchmarked process (node --require): reports its peak resident set size on exit.
process.on('exit', () => {
  process.stderr.write(`peak-rss-kib ${process.resourceUsage().maxRSS}\n`);
});
