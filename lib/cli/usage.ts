// --help texts, one per command.
const HOOKING = `  -f, --function PATTERN  function to hook (repeatable): a name, a glob ('sqlite3_*'),
                          scoped to one object ('libz.so.1:crc32'), or a C++ name
  -p, --pid PID           attach to a running process (all its threads); Ctrl-C or
                          SIGTERM detaches, leaving it as if never traced, and exits 0
      --max-active N      calls of one hook in flight at once (default 4096);
                          more are counted as missed
      --detach-on-exit    Ctrl-C detaches from a program rethook started (it goes on
                          untraced, never sees the SIGINT) instead of ending it
      --backtrace         show each call's backtrace (trampolines replaced by the real
                          return addresses; marked when it cannot be vouched for)
      --follow-fork       trace children made by fork/vfork too (events carry their pid);
                          without it they are released, cleaned of our breakpoints
      --return-mode M     how returns are caught: auto (default: at the return site for
                          setjmp, vfork, dlsym... and Go programs, else the trampoline),
                          trampoline, or site (never touches return addresses)
      --mode M            auto (default): fast for every function it can patch, trap
                          for the rest and for all with --backtrace or --return-mode
                          site (the functions in trap mode are listed, with why);
                          fast: the entries patched to record in the process, no
                          stop per call, real durations; trap: a breakpoint at each
                          call and return, the thread stopped meanwhile
      --prototypes FILE   C declarations of the functions' types, one per line
                          (-f also takes one: -f 'lookup(const char *key, int len) -> int')
      --string-max N      bytes of a string argument or return value shown (default
                          64, at most 65536; fast mode: at most 96, what its recorder
                          copies at the call)
`;

const TREE_TEXT = `text: an indented call tree (default)`;
const SUMMARY_TEXT = `text: the summary table (default)`;
const viewing = (text: string) => `      --format F          ${text}; json: one object per
                          event; chrome: Chrome trace event format (Perfetto UI,
                          chrome://tracing); folded: folded stacks for flame graphs;
                          pprof: gzipped pprof profile (go tool pprof, Pyroscope,
                          Speedscope); perfetto: Perfetto protobuf trace (TrackEvent);
                          pprof and perfetto need -o FILE
  -o, --output FILE       where the output goes (default: stderr for trace, stdout
                          for report, replay and dump)
      --args N            integer arguments shown per call in text (default 3)
  -t, --absolute-time     text: each line starts with the time of day (microseconds)
  -r, --relative-time     text: each line starts with the seconds since the start
  -c, --summary           instead of the events, a summary at the end: per function
                          calls, total, self, avg, min, max, p50, p99, unwound, missed
                          (p50 and p99 within 0.4%: from a histogram, not every call)
      --sort KEY          summary order: calls, total (default), self, avg or max
      --per-thread        summary rows per thread
      --hist [FUNC]       a log2 latency histogram of FUNC (a glob; repeatable), or of
                          every function when FUNC is left out (then put -- before
                          the program)
      --raw-durations     summaries as measured: without subtracting the tracer's
                          round trip (measured at start-up)
      --otlp URL          trace, dump: each call as an OpenTelemetry span, sent to the
                          collector at URL (OTLP/HTTP protobuf: http://HOST:4318); with
                          no --format, -c or --hist, the spans are the only output
      --html              report: one self-contained HTML page (flame graph, sortable
                          table, histograms, threads' timeline) to -o FILE
Filters (the output only; the program runs the same):
      --min-duration D    calls at least D long (10us, 1.5ms, 2s), callers kept
      --max-depth N       calls fewer than N deep in the tree
      --tid N             calls of thread N (repeatable)
      --caller FUNC       calls made, directly or not, from inside FUNC (a glob),
                          FUNC itself as the root
  -n, --limit N           the first N calls
Terminal:
      --color[=WHEN]      auto (default: on a terminal, unless NO_COLOR is set),
                          always, never
      --slow D            durations from D on are highlighted (default 1ms)
`;
const VIEWING = viewing(TREE_TEXT);

export const USAGE = {
  trace: `Usage: rethook [trace] [options] -- PROGRAM [ARGS...]
       rethook [trace] [options] -p PID
       rethook record [-o FILE] [options] -- PROGRAM [ARGS...]
       rethook report|replay|dump [options] FILE

Trace the calls and returns of functions in PROGRAM. 'trace' is the default
command. 'record' writes the events to a file (default run.rethook) that
'report' (a summary), 'replay' (the call tree) and 'dump' (JSON lines,
--chrome, --folded) show, with the options and filters below.

Options:
${HOOKING}${VIEWING}  -h, --help              this help (rethook COMMAND --help: that command's)
  -V, --version           the version
`,
  record: `Usage: rethook record [-o FILE] [options] -- PROGRAM [ARGS...]
       rethook record [-o FILE] [options] -p PID

Record the calls and returns of functions in PROGRAM into FILE (default
run.rethook): JSON lines after a header line (command, pids, modules, format
version). Show it with rethook report, replay or dump.

Options:
${HOOKING}  -o, --output FILE       the record file (default run.rethook)
  -h, --help              this help
`,
  report: `Usage: rethook report [options] FILE

The summary of a record (rethook record -o FILE): per function calls, total,
self, avg, min, max, p50, p99, unwound and missed calls.

Options:
${viewing(SUMMARY_TEXT)}`,
  replay: `Usage: rethook replay [options] FILE

The call tree of a record (rethook record -o FILE), as rethook trace shows it.

Options:
${VIEWING}`,
  dump: `Usage: rethook dump [--chrome | --folded | --format pprof|perfetto -o FILE] [options] FILE

The events of a record as JSON lines, or as a Chrome trace (--chrome),
folded stacks (--folded), a pprof profile or a Perfetto trace.

Options:
      --chrome            Chrome trace event format (Perfetto UI, chrome://tracing)
      --folded            folded stacks for flame graphs (flamegraph.pl, speedscope)
${VIEWING}`,
};
