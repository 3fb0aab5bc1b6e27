// jemalloc's settings for the pickaxe program, read once at start (built in
// only when the program links jemalloc; MALLOC_CONF in the environment
// overrides them). The heap is backed by transparent huge pages, where the
// kernel offers them (the `madvise` mode, Debian's default, included): a
// large rule set's compiled program and the events waiting in the reorder
// buffer are read at random, and with 4 KiB pages most of those reads also
// miss the TLB. Measured with the 1037 detection-rules queries: 6 to 9%
// less time over 500 k bench events in alternated runs, 70% fewer page
// faults, about 10 MB more peak RSS (docs/DECISIONS.md, "One compiled
// program").
extern "C" {
// NOLINTNEXTLINE: the name is jemalloc's.
const char* malloc_conf = "thp:always,metadata_thp:always";
}
