/* The compiled core of the linearizability search (optional; splitbrain.checker.fast drives it).
 *
 * It runs the search of splitbrain/checker/search.py over integers, step for step: the same candidates
 * in the same order, the same crash sequences, the same memo, so the same verdict, witness and
 * counterexample (tests/test_checker_fast.py checks this against the reference). Operations are
 * numbered and laid out by splitbrain/checker/layout.py (entries, keys, lanes, crash classes); model
 * states are interned to ids by the Python side, and a transition (operation, state id) -> successor
 * ids is asked of Python only the first time the search meets it, then kept in a hash table.
 *
 * A configuration, per key, is (first pending return, lanes of the open operations already linearized,
 * state id, and in exact mode the interned crash usage): its size is bounded by the history's
 * concurrency, not its length (search.py says why that is the whole configuration). The memo of dead
 * configurations is hashed and compared in full. The crashed calls are a pool of classes
 * (splitbrain/checker/pool.py): counted per class, used only in crash sequences just before a completed
 * operation. The path is a persistent tree (_prefixes.h), so the deepest prefix and the longest prefix
 * of every operation cost O(1) per dead end however long the history.
 *
 * Memory is counted in bytes as it is allocated, and every table asks the budget before it is allocated
 * or grows (fixed tables, memo, transitions, successor pool, candidates, crash sequences, usage vectors,
 * path nodes, kv strings); running past it, or an allocation that fails mid-search, ends the search with
 * a status the caller turns into "unknown", never a crash and never a MemoryError.
 *
 * The module is importable by anyone, so it trusts no argument: Search() checks every count and index
 * it is given (the entries must be what layout.entries() builds, keys, lanes and classes in range and
 * consistent, lanes a real colouring), and each state id the step callback returns, raising TypeError,
 * ValueError or OverflowError. Checked once there, they let the search loop index without checks
 * (tests/test_fastcore_hardening.py calls it every wrong way, each in a fresh interpreter).
 *
 * For the built-in kv model the transitions are not asked of Python at all: _kvstep.h steps it natively
 * over interned strings (the search is otherwise the same, successor for successor).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { RUNNING = 0, VALID = 1, INVALID = 2, OVER_STATES = 3, OVER_BYTES = 4, OVER_SEQUENCES = 5 };
/* crash sequences one search step may consider (pool.MAX_SEQUENCES) */
#define MAX_SEQUENCES 4096
/* The memo's entries live in chunks that double: chunk 0 holds entries [0, 2^FIRST_CHUNK), chunk k > 0
 * holds [2^(FIRST_CHUNK + k - 1), 2^(FIRST_CHUNK + k)). A small search allocates little (a small memory
 * budget is not spent on one large first chunk), a large one allocates O(log) times, and no entry moves. */
#define FIRST_CHUNK 10
#define MAX_CHUNKS 24
#if defined(__GNUC__) || defined(__clang__)
#define BIT_LENGTH(q) ((q) ? 64 - __builtin_clzll(q) : 0)
#else
static inline int BIT_LENGTH(uint64_t q) { int k = 0; while (q) { q >>= 1; k++; } return k; }
#endif

static uint64_t splitmix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

#include "_kvstep.h"
#include "_usage.h"
#include "_prefixes.h"

/* A configuration on the path (search.py's frame, field for field). Successors of the current
 * candidate: at `succ_off` in the pool, or (succ_off -1) the one native successor `one`. */
typedef struct {
    int key, e, cstart, cend, sid, uid, forced;
    int sel_start, seq_n;                 /* its crash sequences, in `sel` (seq_n -1: not chosen yet) */
    int si, seq_sid, seq_cls, seq_len;    /* the current sequence (si -1: the empty one) */
    int ci, cur, succ_off, succ_n, succ_i, one;
} Frame;

/* a crash sequence: end state, its classes (in seq_cls) and usage pairs (in seq_use) */
typedef struct { int sid, cls, len, use, npairs; } Seq;
/* the crash sequences from a state at a signature (kind 0) or epoch (kind 1) (pool.Pool._all):
 * seqs[first, first + count), count -1 when too many */
typedef struct { int key, sid, kind, epoch, first, count; } Cached;
typedef struct { int sid, seq, len, use, npairs; } Bfs; /* one found while searching for sequences */
typedef struct { int key, c, ncrash, before, lane_was, uid_was; } Move;

typedef struct {
    PyObject_HEAD
    int n, nops, nkeys, W, nclasses;
    int exact, target, track_longest;
    /* the layout, checked (see check_layout) */
    int *kind, *opi, *match, *okey, *olane, *oclass, *osym, *oread;
    int *sym_rep; /* per alike class: its first operation */
    int *sym_min; /* per alike class: the earliest return among a frame's candidates (scratch of enter) */
    int *sym_many; /* per alike class: whether it has two completed operations or more */
    int *ret_of; /* per op: its return entry, n + 1 for a crashed call */
    /* the completed operations' entries, linked: their returns (head 0: the first is the first pending
     * return, read in O(1)), and per key all of them (head n + 1 + key: the candidates) */
    int *nxt, *prv, *knxt, *kprv;
    int *rknxt, *rkprv; /* per key, its completed operations' returns only (head n + 1 + key) */
    int remaining;
    int *part, *lane_off, *lanes, *ahead, *uvec; /* per key: state id, lanes; per lane: latest op */
    /* the crash pool: per class its key and calls (entries and ops, in call order); per key its classes */
    int *cls_key, *cls_off, *cls_len, *cls_calls, *cls_ops, *key_cls_off, *key_cls, *used;
    int over; /* uses on the path past a class's count (relaxed mode) */
    Usages uv;
    Prefixes px;
    int uv_ready, px_ready;
    PyObject *step;
    KVStep *kv; /* the native kv step, or NULL: ask `step` */
    /* transitions: (alike class << 32 | sid) + 1 -> offset into pool (count, then ids) */
    uint64_t *tkeys;
    int *tvals;
    size_t tcap, tcount;
    int *pool;
    size_t pool_len, pool_cap;
    /* memo of dead configurations */
    uint64_t *slots; /* open addressing: the entry's hash >> 32 (its tag), then its index + 1; 0 empty */
    size_t scap, count;
    uint64_t *chunks[MAX_CHUNKS]; /* entries (hash, key << 32 | p, sid << 32 | uid, lane words) */
    size_t nchunks, stride;
    /* search stacks */
    Frame *frames;
    int nframes;
    int *cands;
    int cand_top, cand_cap;
    uint64_t *fwords; /* per frame: its configuration's lanes (W words) */
    uint64_t *child;  /* W words */
    Seq *seqs; /* every crash sequence computed, kept for the search (see sequences()) */
    int seq_top, seq_cap;
    int *seq_cls, *seq_use;
    int seq_cls_top, seq_cls_cap, seq_use_top, seq_use_cap;
    Cached *cached;
    int ncached, cached_cap;
    int *cslots; /* open addressing over `cached`: index + 1, 0 empty */
    int cslots_cap;
    int *sel;    /* per frame, the sequences it tries (indices into seqs) */
    int sel_top, sel_cap;
    int *key_calls, *key_calls_off; /* per key, its crashed calls' entries in order (epochs) */
    int *key_firsts, *key_firsts_off; /* per key, its classes' first and second calls (signatures) */
    int *avail_of; /* per class: its calls before the entry of the frame choosing sequences */
    Bfs *bfs;
    int *bfs_seq, *bfs_use, *avail_c, *avail_a;
    int bfs_seq_cap, bfs_use_cap;
    Move *moves;
    int nmoves;
    int *mcrash; /* per crash op on the path: its class and whether it was past the count */
    int mcrash_top, mcrash_cap;
    int entering, failed, checked, status;
    int ready;   /* Search_init succeeded: the methods may read the tables */
    int running; /* inside run(): the step callback may not run this search again */
    /* results */
    int deepest_node, deepest_depth, blocked, deepest_sid, culprit;
    long long steps, backtracks;
    size_t bytes, max_bytes, max_states;
} Search;

/* -- memory: every table counts its bytes; the growing ones ask the budget first ----------------- */

/* Do `more` bytes fit in the budget? (Written so that nothing overflows near SIZE_MAX.) */
static inline int fits(const Search *s, size_t more) {
    return more <= s->max_bytes && s->bytes <= s->max_bytes - more;
}

static void *counted(Search *s, size_t size) {
    void *p = calloc(1, size ? size : 1);
    if (p) s->bytes += size;
    return p;
}

/* A table of the search, zeroed: NULL with the status OVER_BYTES when it would pass the budget (the
 * search then ends "unknown" before it starts), NULL with MemoryError when the memory cannot be had. */
static void *budgeted(Search *s, size_t size) {
    if (!fits(s, size)) {
        s->status = OVER_BYTES;
        return NULL;
    }
    void *p = counted(s, size);
    if (!p) PyErr_NoMemory();
    return p;
}

/* Double `*arr` (of `*cap` items of `item` bytes) until it holds `need`: 0, or 1 with the status
 * OVER_BYTES (over the budget, past int, or no memory to be had: the search ends "unknown"). */
static int grow(Search *s, void **arr, int *cap, size_t item, size_t need) {
    if (need <= (size_t)*cap) return 0;
    size_t ncap = *cap ? (size_t)*cap : 16;
    while (ncap < need) ncap *= 2;
    if (ncap > INT_MAX || !fits(s, item * (ncap - (size_t)*cap))) { s->status = OVER_BYTES; return 1; }
    void *p = realloc(*arr, item * ncap);
    if (!p) { s->status = OVER_BYTES; return 1; } /* the old table is intact */
    s->bytes += item * (ncap - (size_t)*cap);
    *arr = p;
    *cap = (int)ncap;
    return 0;
}

/* -- arguments: every index from Python is checked here once, so the search loop needs no checks --- */

/* The counts, operations and entries the core indexes by are ints; this many of each keeps every
 * product and sum of them (2n + 16 candidates, (nops + 2) * W stack words) far from overflowing, and
 * no history that fits in a Python process comes near it. */
#define MAX_ITEMS (1 << 28)

/* The length of `seq` (named `what`), which must be a list or tuple; -1 with TypeError. */
static Py_ssize_t seq_len(PyObject *seq, const char *what) {
    if (!PyList_Check(seq) && !PyTuple_Check(seq)) {
        PyErr_Format(PyExc_TypeError, "%s must be a list of ints, not %.100s", what, Py_TYPE(seq)->tp_name);
        return -1;
    }
    Py_ssize_t len = PySequence_Fast_GET_SIZE(seq);
    if (len > MAX_ITEMS) {
        PyErr_Format(PyExc_OverflowError, "%s has %zd entries, more than the compiled core takes (%d)", what,
                     len, MAX_ITEMS);
        return -1;
    }
    return len;
}

/* One item of a list of ints as a C int: TypeError for a non-int, OverflowError past int. Only exact
 * ints (and subclasses) are read, by value, so no Python code (an __index__) runs and the list cannot
 * change under the caller while it reads it. */
static int int_item(PyObject *item, const char *what, Py_ssize_t i, int *out) {
    if (!PyLong_Check(item)) {
        PyErr_Format(PyExc_TypeError, "%s[%zd] must be an int, not %.100s", what, i, Py_TYPE(item)->tp_name);
        return -1;
    }
    int overflow;
    long v = PyLong_AsLongAndOverflow(item, &overflow);
    if (overflow || v < INT_MIN || v > INT_MAX) {
        PyErr_Format(PyExc_OverflowError, "%s[%zd] does not fit a C int", what, i);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* `seq` (a list or tuple of `len` ints, checked by seq_len) as a counted C array with one spare slot */
static int *int_array(Search *s, PyObject *seq, const char *what, Py_ssize_t len) {
    if (PySequence_Fast_GET_SIZE(seq) != len) {
        PyErr_Format(PyExc_ValueError, "%s has %zd entries, expected %zd", what, PySequence_Fast_GET_SIZE(seq), len);
        return NULL;
    }
    int *a = counted(s, sizeof(int) * ((size_t)len + 1));
    if (!a) { PyErr_NoMemory(); return NULL; }
    for (Py_ssize_t i = 0; i < len; i++)
        if (int_item(PySequence_Fast_GET_ITEM(seq, i), what, i, &a[i]) < 0) return NULL; /* freed by dealloc */
    return a;
}

/* A budget: an int from 0 to 2**64 - 1 (more than the address space means no budget) */
static int size_arg(PyObject *o, const char *what, size_t *out) {
    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", what, Py_TYPE(o)->tp_name);
        return -1;
    }
    int overflow;
    long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow < 0 || (!overflow && v < 0)) {
        PyErr_Format(PyExc_ValueError, "%s must not be negative", what);
        return -1;
    }
    unsigned long long u = overflow ? PyLong_AsUnsignedLongLong(o) : (unsigned long long)v;
    if (u == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        PyErr_Format(PyExc_OverflowError, "%s must be at most 2**64 - 1", what);
        return -1;
    }
    *out = u > SIZE_MAX ? SIZE_MAX : (size_t)u;
    return 0;
}

/* The entries must be what layout.entries() builds, because the search relies on it for every index:
 * entries 1..n are calls (0) and returns (1) of operations 0..nops-1; each operation has at most one
 * call; a call's match is -1 (outcome unknown) or a later return of the same operation; a return's
 * match is -1; and every return is some call's match. Then the path (one entry per lifted call) never
 * outgrows nops, a return is lifted exactly once, with its call, and while `remaining` returns are not
 * lifted the list holds one, so the walk to the first return never runs off the list. Entry 0 is the
 * list's head: its kind, operation and match are never read. */
static int check_entries(Search *s) {
    int n = s->n, nops = s->nops, returns = 0, matched = 0;
    unsigned char *called = calloc((size_t)nops + 1, 1);
    if (!called) { PyErr_NoMemory(); return -1; }
    for (int e = 1; e <= n; e++) {
        int k = s->kind[e], op = s->opi[e], r = s->match[e];
        if (k != 0 && k != 1) {
            PyErr_Format(PyExc_ValueError, "kind[%d] = %d: an entry is a call (0) or a return (1)", e, k);
            goto fail;
        }
        if (op < 0 || op >= nops) {
            PyErr_Format(PyExc_ValueError, "opi[%d] = %d is not an operation (there are %d)", e, op, nops);
            goto fail;
        }
        if (k == 1) {
            returns++;
            if (r != -1) {
                PyErr_Format(PyExc_ValueError, "match[%d] = %d: a return entry's match must be -1", e, r);
                goto fail;
            }
            continue;
        }
        if (called[op]) {
            PyErr_Format(PyExc_ValueError, "opi[%d] = %d: operation %d has a second call entry", e, op, op);
            goto fail;
        }
        called[op] = 1;
        if (r == -1) continue;
        if (r <= e || r > n || s->kind[r] != 1 || s->opi[r] != op) {
            PyErr_Format(PyExc_ValueError, "match[%d] = %d is not a later return entry of operation %d", e, r, op);
            goto fail;
        }
        matched++; /* distinct returns: a return names one operation, and that operation one call */
    }
    if (matched != returns) {
        PyErr_Format(PyExc_ValueError, "%d return entries, but only %d calls match one", returns, matched);
        goto fail;
    }
    free(called);
    return 0;
fail:
    free(called);
    return -1;
}


/* The layout must be what layout.Layout builds, because the search indexes by it:
 *   - every key in [0, nkeys);
 *   - a completed operation (its call has a match) has a lane in [0, 64 W), and the lanes of each key
 *     are a colouring: two operations of one key that are open at once never share a lane (so the
 *     lanes of a key, and the bits of a configuration, stay within its concurrency);
 *   - a crashed operation (a call without a match) has lane -1 and a class in [0, nops); the calls of
 *     one class share a key; an operation without a call has lane and class -1;
 *   - a completed operation has crash class -1;
 *   - an operation with a call has a class of alike operations (osym) in [0, nops), any other -1 (the
 *     model is stepped once per alike class and state, for the class's first operation);
 *   - every read flag is 0 or 1.
 * Then the per-key lane tables, the crash classes and their calls are built here. 0, or -1 with
 * ValueError (or MemoryError). */
static int check_layout(Search *s) {
    int n = s->n, nops = s->nops, nkeys = s->nkeys, result = -1;
    long long bits = 64LL * s->W;
    int *call = malloc(sizeof(int) * ((size_t)nops + 1)), *occupant = NULL;
    if (!call) { PyErr_NoMemory(); return -1; }
    for (int op = 0; op < nops; op++) call[op] = 0;
    for (int e = 1; e <= n; e++)
        if (s->kind[e] == 0) call[s->opi[e]] = e;
    int nclasses = 0;
    for (int op = 0; op < nops; op++) {
        int k = s->okey[op], lane = s->olane[op], cls = s->oclass[op], r = s->oread[op], sym = s->osym[op];
        int completed = call[op] && s->match[call[op]] != -1, crashed = call[op] && s->match[call[op]] == -1;
        if (k < 0 || k >= nkeys) {
            PyErr_Format(PyExc_ValueError, "okey[%d] = %d is not a key (there are %d)", op, k, nkeys);
            goto done;
        }
        if (completed ? (lane < 0 || lane >= bits) : lane != -1) {
            PyErr_Format(PyExc_ValueError, "olane[%d] = %d: a completed operation's lane is in [0, %lld), any "
                         "other's is -1", op, lane, bits);
            goto done;
        }
        if (crashed ? (cls < 0 || cls >= nops) : cls != -1) {
            PyErr_Format(PyExc_ValueError, "oclass[%d] = %d: a crashed call's class is in [0, %d), any other's "
                         "is -1", op, cls, nops);
            goto done;
        }
        if (call[op] ? (sym < 0 || sym >= nops) : sym != -1) {
            PyErr_Format(PyExc_ValueError, "osym[%d] = %d: a called operation's class is in [0, %d), any other's "
                         "is -1", op, sym, nops);
            goto done;
        }
        if (r != 0 && r != 1) {
            PyErr_Format(PyExc_ValueError, "oread[%d] = %d: a read flag is 0 or 1", op, r);
            goto done;
        }
        if (cls >= nclasses) nclasses = cls + 1;
    }
    s->nclasses = nclasses;
    /* each alike class's first operation (by call) stands for it */
    if (!(s->sym_rep = counted(s, sizeof(int) * ((size_t)nops + 1))) ||
        !(s->sym_min = counted(s, sizeof(int) * ((size_t)nops + 1))) ||
        !(s->sym_many = counted(s, sizeof(int) * ((size_t)nops + 1)))) { PyErr_NoMemory(); goto done; }
    for (int op = 0; op < nops; op++) s->sym_rep[op] = -1, s->sym_many[op] = 0;
    for (int e = 1; e <= n; e++) {
        int op = s->opi[e];
        if (s->kind[e] == 0 && s->sym_rep[s->osym[op]] < 0) s->sym_rep[s->osym[op]] = op;
        if (s->kind[e] == 1) s->sym_many[s->osym[op]]++; /* counts completed ones first */
    }
    for (int op = 0; op < nops; op++) s->sym_many[op] = s->sym_many[op] > 1;
    /* per key: lanes (one past the highest used) and their offsets; per class: key and sizes */
    size_t K = (size_t)nkeys, C = (size_t)nclasses + 1;
    if (!(s->lanes = counted(s, sizeof(int) * K)) || !(s->lane_off = counted(s, sizeof(int) * (K + 1))) ||
        !(s->cls_key = counted(s, sizeof(int) * C)) || !(s->cls_off = counted(s, sizeof(int) * (C + 1))) ||
        !(s->cls_len = counted(s, sizeof(int) * C)) || !(s->key_cls_off = counted(s, sizeof(int) * (K + 1)))) {
        PyErr_NoMemory();
        goto done;
    }
    for (int c = 0; c < nclasses; c++) s->cls_key[c] = -1;
    for (int op = 0; op < nops; op++) {
        int k = s->okey[op], lane = s->olane[op], cls = s->oclass[op];
        if (lane >= s->lanes[k]) s->lanes[k] = lane + 1;
        if (cls < 0) continue;
        if (s->cls_key[cls] >= 0 && s->cls_key[cls] != k) {
            PyErr_Format(PyExc_ValueError, "oclass[%d] = %d: the calls of a class share a key, but this one's is %d "
                         "and another's %d", op, cls, k, s->cls_key[cls]);
            goto done;
        }
        s->cls_key[cls] = k;
        s->cls_len[cls]++;
    }
    for (int k = 0; k < nkeys; k++) s->lane_off[k + 1] = s->lane_off[k] + s->lanes[k]; /* <= nops in all */
    /* the colouring: walk the entries with each lane's occupant */
    if (!(occupant = malloc(sizeof(int) * ((size_t)s->lane_off[nkeys] + 1)))) { PyErr_NoMemory(); goto done; }
    for (int l = 0; l < s->lane_off[nkeys]; l++) occupant[l] = -1;
    for (int e = 1; e <= n; e++) {
        int op = s->opi[e], lane = s->olane[op];
        if (lane < 0) continue;
        int *at = &occupant[s->lane_off[s->okey[op]] + lane];
        if (s->kind[e] == 0) {
            if (*at >= 0) {
                PyErr_Format(PyExc_ValueError, "olane[%d] = %d: operations %d and %d of key %d are open at once in "
                             "one lane", op, lane, *at, op, s->okey[op]);
                goto done;
            }
            *at = op;
        } else {
            *at = -1;
        }
    }
    /* classes: calls in entry order, classes of each key in class order */
    for (int c = 0; c < nclasses; c++) s->cls_off[c + 1] = s->cls_off[c] + s->cls_len[c];
    size_t total = (size_t)s->cls_off[nclasses] + 1;
    if (!(s->cls_calls = counted(s, sizeof(int) * total)) || !(s->cls_ops = counted(s, sizeof(int) * total)) ||
        !(s->key_cls = counted(s, sizeof(int) * C)) || !(s->used = counted(s, sizeof(int) * C)) ||
        !(s->avail_c = counted(s, sizeof(int) * C)) || !(s->avail_a = counted(s, sizeof(int) * C))) {
        PyErr_NoMemory();
        goto done;
    }
    for (int c = 0; c < nclasses; c++) s->cls_len[c] = 0;
    for (int e = 1; e <= n; e++) {
        int op = s->opi[e], cls = s->oclass[op];
        if (s->kind[e] != 0 || cls < 0) continue;
        int at = s->cls_off[cls] + s->cls_len[cls]++;
        s->cls_calls[at] = e;
        s->cls_ops[at] = op;
    }
    /* per key, its crashed calls in entry order: how many precede a point is the point's epoch */
    if (!(s->key_calls = counted(s, sizeof(int) * total)) || !(s->key_calls_off = counted(s, sizeof(int) * (K + 1)))) {
        PyErr_NoMemory();
        goto done;
    }
    for (int c = 0; c < nclasses; c++) s->key_calls_off[s->cls_key[c] + 1] += s->cls_len[c];
    for (int k = 0; k < nkeys; k++) s->key_calls_off[k + 1] += s->key_calls_off[k];
    if (!(s->key_firsts = counted(s, sizeof(int) * total)) || !(s->key_firsts_off = counted(s, sizeof(int) * (K + 1))) ||
        !(s->avail_of = counted(s, sizeof(int) * C))) {
        PyErr_NoMemory();
        goto done;
    }
    for (int c = 0; c < nclasses; c++) s->key_firsts_off[s->cls_key[c] + 1] += s->cls_len[c] < 2 ? s->cls_len[c] : 2;
    for (int k = 0; k < nkeys; k++) s->key_firsts_off[k + 1] += s->key_firsts_off[k];
    {
        int *cursor = calloc(2 * (K + 1) + C, sizeof(int)), *fcursor = cursor + K + 1, *seen = cursor + 2 * (K + 1);
        if (!cursor) { PyErr_NoMemory(); goto done; }
        for (int e = 1; e <= n; e++) {
            int op = s->opi[e];
            if (s->kind[e] != 0 || s->oclass[op] < 0) continue;
            int k = s->okey[op];
            s->key_calls[s->key_calls_off[k] + cursor[k]++] = e;
            if (seen[s->oclass[op]]++ < 2) s->key_firsts[s->key_firsts_off[k] + fcursor[k]++] = e;
        }
        free(cursor);
    }
    for (int c = 0; c < nclasses; c++)
        if (s->cls_len[c]) s->key_cls_off[s->cls_key[c] + 1]++;
    for (int k = 0; k < nkeys; k++) s->key_cls_off[k + 1] += s->key_cls_off[k];
    {
        int *cursor = calloc(K + 1, sizeof(int));
        if (!cursor) { PyErr_NoMemory(); goto done; }
        for (int c = 0; c < nclasses; c++) {
            if (!s->cls_len[c]) continue;
            int k = s->cls_key[c];
            s->key_cls[s->key_cls_off[k] + cursor[k]++] = c;
        }
        free(cursor);
    }
    result = 0;
done:
    free(call);
    free(occupant);
    return result;
}

static void Search_dealloc(Search *s) {
    free(s->kind); free(s->opi); free(s->match); free(s->okey); free(s->olane); free(s->oclass); free(s->osym); free(s->sym_rep);
    free(s->sym_min); free(s->sym_many);
    free(s->oread);
    free(s->ret_of); free(s->nxt); free(s->prv); free(s->knxt); free(s->kprv);
    free(s->rknxt); free(s->rkprv);
    free(s->part); free(s->lane_off); free(s->lanes); free(s->ahead); free(s->uvec);
    free(s->cls_key); free(s->cls_off); free(s->cls_len); free(s->cls_calls); free(s->cls_ops);
    free(s->key_cls_off); free(s->key_cls); free(s->used);
    free(s->tkeys); free(s->tvals); free(s->pool); free(s->slots);
    for (size_t i = 0; i < s->nchunks; i++) free(s->chunks[i]);
    free(s->frames); free(s->cands); free(s->fwords); free(s->child); free(s->seqs); free(s->seq_cls);
    free(s->seq_use); free(s->cached); free(s->cslots); free(s->sel); free(s->key_calls); free(s->key_calls_off);
    free(s->key_firsts); free(s->key_firsts_off); free(s->avail_of);
    free(s->bfs); free(s->bfs_seq); free(s->bfs_use); free(s->avail_c); free(s->avail_a);
    free(s->moves); free(s->mcrash);
    if (s->uv_ready) uv_free(&s->uv);
    if (s->px_ready) px_free(&s->px);
    kv_free(s->kv);
    Py_XDECREF(s->step);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

/* Search(kind, opi, match, okey, olane, oclass, osym, oread, nkeys, width, step, init_sid, max_states,
 *        max_bytes, track, exact, target[, kv])
 * The layout of layout.Layout (entries, keys, lanes, classes, alike-classes, read flags, lane words); `exact` counts
 * crash uses (else relaxed); `target` is 0 or a return entry the search stops at once it is the first
 * pending one. kv: None, or (codes, texts, strings) for the native kv step (see _kvstep.h); then `step`
 * is not called. Every argument is checked (see check_entries and check_layout); bad ones raise
 * TypeError, ValueError or OverflowError. The search's tables are sized from the checked counts and
 * allocated only when they fit the budget; when they do not, run() returns OVER_BYTES at once. */
static int Search_init(Search *s, PyObject *args, PyObject *kw) {
    PyObject *kind, *opi, *match, *okey, *olane, *oclass, *osym, *oread, *step, *max_states, *max_bytes;
    PyObject *kv = Py_None;
    int nkeys, width, init_sid, track, exact, target;
    if (kw && PyDict_GET_SIZE(kw)) {
        PyErr_SetString(PyExc_TypeError, "Search() takes no keyword arguments");
        return -1;
    }
    if (!PyArg_ParseTuple(args, "OOOOOOOOiiOiOOppi|O", &kind, &opi, &match, &okey, &olane, &oclass, &osym, &oread,
                          &nkeys, &width, &step, &init_sid, &max_states, &max_bytes, &track, &exact, &target, &kv))
        return -1;
    if (s->step) { PyErr_SetString(PyExc_RuntimeError, "Search initialised twice"); return -1; }
    if (!PyCallable_Check(step)) {
        PyErr_Format(PyExc_TypeError, "step must be callable, not %.100s", Py_TYPE(step)->tp_name);
        return -1;
    }
    Py_INCREF(step);
    s->step = step; /* from here on a second __init__ is refused, and dealloc frees what was built */
    if (size_arg(max_states, "max_states", &s->max_states) < 0 || size_arg(max_bytes, "max_bytes", &s->max_bytes) < 0)
        return -1;
    Py_ssize_t n1 = seq_len(kind, "kind"), nops = seq_len(okey, "okey");
    if (n1 < 0 || nops < 0 || seq_len(opi, "opi") < 0 || seq_len(match, "match") < 0 || seq_len(olane, "olane") < 0 ||
        seq_len(oclass, "oclass") < 0 || seq_len(osym, "osym") < 0 || seq_len(oread, "oread") < 0)
        return -1;
    if (n1 < 1) {
        PyErr_SetString(PyExc_ValueError, "kind must hold the list's head entry (0) and then the entries");
        return -1;
    }
    int max_width = nops > 64 ? (int)((nops + 63) / 64) : 1;
    if (nkeys < 1 || nkeys > (nops > 1 ? nops : 1)) {
        PyErr_Format(PyExc_ValueError, "nkeys = %d: must be from 1 to the number of operations (%zd)", nkeys, nops);
        return -1;
    }
    if (width < 1 || width > max_width) {
        PyErr_Format(PyExc_ValueError, "width = %d: must be from 1 to %d words for %zd operations", width,
                     max_width, nops);
        return -1;
    }
    if (init_sid < 0) {
        PyErr_Format(PyExc_ValueError, "init_sid = %d: state ids are not negative", init_sid);
        return -1;
    }
    if (kv != Py_None && init_sid != 0) { /* the native kv step knows one state at the start: 0, "" */
        PyErr_Format(PyExc_ValueError, "init_sid = %d: with kv the search starts in state 0", init_sid);
        return -1;
    }
    if (kv != Py_None && !(PyTuple_Check(kv) && PyTuple_GET_SIZE(kv) == 3)) {
        PyErr_Format(PyExc_TypeError, "kv must be None or a tuple (codes, texts, strings), not %.100s",
                     Py_TYPE(kv)->tp_name);
        return -1;
    }
    s->n = (int)n1 - 1;
    s->nops = (int)nops;
    s->nkeys = nkeys;
    s->W = width;
    s->track_longest = track;
    s->exact = exact;
    if (!(s->kind = int_array(s, kind, "kind", n1)) || !(s->opi = int_array(s, opi, "opi", n1)) ||
        !(s->match = int_array(s, match, "match", n1)) || !(s->okey = int_array(s, okey, "okey", nops)) ||
        !(s->olane = int_array(s, olane, "olane", nops)) || !(s->oclass = int_array(s, oclass, "oclass", nops)) ||
        !(s->osym = int_array(s, osym, "osym", nops)) ||
        !(s->oread = int_array(s, oread, "oread", nops)))
        return -1;
    if (check_entries(s) < 0 || check_layout(s) < 0) return -1;
    if (target != 0 && (target < 1 || target > s->n || s->kind[target] != 1)) {
        PyErr_Format(PyExc_ValueError, "target = %d: must be 0 or a return entry", target);
        return -1;
    }
    s->target = target;
    s->failed = -1;
    s->checked = -1;
    s->blocked = -1;
    s->culprit = 0;
    s->deepest_node = -1;
    s->deepest_depth = -1;
    s->deepest_sid = init_sid;
    /* the search's tables; budgeted() stops at the first that does not fit */
    size_t n1z = (size_t)n1, o1 = (size_t)nops + 1, depth = (size_t)nops + 2, W = (size_t)width, K = (size_t)nkeys;
    size_t L = (size_t)s->lane_off[nkeys] + 1;
    s->cand_cap = 2 * s->n + 16;
    s->mcrash_cap = 2 * (int)o1;
    s->tcap = 1024;
    s->pool_cap = 4096;
    s->scap = 1024;
    s->stride = 3 + W;
    if (!(s->nxt = budgeted(s, sizeof(int) * n1z)) || !(s->prv = budgeted(s, sizeof(int) * n1z)) ||
        !(s->knxt = budgeted(s, sizeof(int) * (n1z + K))) || !(s->kprv = budgeted(s, sizeof(int) * (n1z + K))) ||
        !(s->rknxt = budgeted(s, sizeof(int) * (n1z + K))) || !(s->rkprv = budgeted(s, sizeof(int) * (n1z + K))) ||
        !(s->ret_of = budgeted(s, sizeof(int) * o1)) || !(s->part = budgeted(s, sizeof(int) * K)) ||
        !(s->ahead = budgeted(s, sizeof(int) * L)) || !(s->uvec = budgeted(s, sizeof(int) * K)) ||
        !(s->frames = budgeted(s, sizeof(Frame) * depth)) || !(s->moves = budgeted(s, sizeof(Move) * depth)) ||
        !(s->cands = budgeted(s, sizeof(int) * (size_t)s->cand_cap)) ||
        !(s->mcrash = budgeted(s, sizeof(int) * (size_t)s->mcrash_cap)) ||
        !(s->fwords = budgeted(s, sizeof(uint64_t) * depth * W)) || !(s->child = budgeted(s, sizeof(uint64_t) * W)) ||
        !(s->bfs = budgeted(s, sizeof(Bfs) * (MAX_SEQUENCES + 2))) ||
        !(s->tkeys = budgeted(s, sizeof(uint64_t) * s->tcap)) || !(s->tvals = budgeted(s, sizeof(int) * s->tcap)) ||
        !(s->pool = budgeted(s, sizeof(int) * s->pool_cap)) || !(s->slots = budgeted(s, sizeof(uint64_t) * s->scap))) {
        if (PyErr_Occurred()) return -1;
    }
    if (s->status == RUNNING) {
        if (uv_init(&s->uv, s->nclasses, &s->bytes, s->max_bytes) < 0) s->status = OVER_BYTES;
        s->uv_ready = 1; /* uv_free frees whatever uv_init allocated */
    }
    if (s->status == RUNNING) {
        if (px_init(&s->px, s->nops, track, &s->bytes, s->max_bytes) < 0) s->status = OVER_BYTES;
        s->px_ready = 1;
    }
    if (kv != Py_None) {
        /* checked whatever the budget; with the search already over it, no budget is left for kv */
        s->kv = kv_new(PyTuple_GET_ITEM(kv, 0), PyTuple_GET_ITEM(kv, 1), PyTuple_GET_ITEM(kv, 2), s->nops,
                       &s->bytes, s->status == OVER_BYTES ? 0 : s->max_bytes);
        if (!s->kv) {
            if (PyErr_Occurred()) return -1;
            s->status = OVER_BYTES; /* the values alone pass the budget */
        }
    }
    if (s->status == RUNNING) {
        int n = s->n, last = 0;
        for (int op = 0; op < s->nops; op++) s->ret_of[op] = n + 1;
        for (int k = 0; k < nkeys; k++)
            s->kprv[n + 1 + k] = s->knxt[n + 1 + k] = s->rkprv[n + 1 + k] = s->rknxt[n + 1 + k] = -1;
        int *klast = s->part; /* borrowed as each key's last entry while linking */
        int *rklast = s->uvec; /* and each key's last return */
        for (int k = 0; k < nkeys; k++) klast[k] = rklast[k] = n + 1 + k;
        s->nxt[0] = -1;
        s->prv[0] = -1;
        for (int e = 1; e <= n; e++) {
            s->nxt[e] = s->prv[e] = s->knxt[e] = s->kprv[e] = s->rknxt[e] = s->rkprv[e] = -1;
            if (s->kind[e] == 0 && s->match[e] == -1) continue; /* a crashed call: in the pool */
            int k = s->okey[s->opi[e]];
            if (s->kind[e] == 1) {
                s->ret_of[s->opi[e]] = e;
                s->remaining++;
                s->nxt[last] = e;
                s->prv[e] = last;
                last = e;
                s->rknxt[rklast[k]] = e;
                s->rkprv[e] = rklast[k];
                rklast[k] = e;
            }
            s->knxt[klast[k]] = e;
            s->kprv[e] = klast[k];
            klast[k] = e;
        }
        for (int k = 0; k < nkeys; k++) s->part[k] = init_sid, s->uvec[k] = 0;
        for (size_t l = 0; l < L; l++) s->ahead[l] = -1;
        s->entering = 1;
    }
    s->ready = 1;
    return 0;
}

/* Methods on a Search that was never (successfully) initialised would read NULL tables. */
static int check_ready(Search *s) {
    if (s->ready) return 0;
    PyErr_SetString(PyExc_RuntimeError, "Search is not initialised (its __init__ did not succeed)");
    return -1;
}

/* -- memo of dead configurations ------------------------------------------------------------------ */

static inline uint64_t memo_hash(int key, int p, int sid, int uid, const uint64_t *words, int W) {
    uint64_t h = splitmix(((uint64_t)(uint32_t)key << 32) | (uint32_t)p);
    h = splitmix(h ^ (((uint64_t)(uint32_t)sid << 32) | (uint32_t)uid));
    for (int i = 0; i < W; i++) h = splitmix(h ^ words[i]);
    return h ? h : 1;
}

static inline uint64_t *entry_at(Search *s, size_t idx) {
    int k = BIT_LENGTH(idx >> FIRST_CHUNK);
    size_t start = k ? (size_t)1 << (FIRST_CHUNK + k - 1) : 0;
    return s->chunks[k] + (idx - start) * s->stride;
}

/* A slot keeps the top half of its entry's hash: the table places by it and can grow without reading
 * the entries, and a probe reads an entry only when the tags agree. */
static inline size_t slot_home(uint64_t tag, size_t cap) { return (size_t)tag & (cap - 1); }

static int memo_contains(Search *s, int key, int p, int sid, int uid, const uint64_t *words, uint64_t h) {
    uint64_t a = ((uint64_t)(uint32_t)key << 32) | (uint32_t)p, b = ((uint64_t)(uint32_t)sid << 32) | (uint32_t)uid;
    uint64_t tag = h >> 32;
    size_t mask = s->scap - 1, i = slot_home(tag, s->scap);
    for (;;) {
        uint64_t slot = s->slots[i];
        if (!slot) return 0;
        if (slot >> 32 == tag) {
            uint64_t *e = entry_at(s, (uint32_t)slot - 1);
            if (e[0] == h && e[1] == a && e[2] == b && memcmp(e + 3, words, sizeof(uint64_t) * s->W) == 0) return 1;
        }
        i = (i + 1) & mask;
    }
}

/* 0 added, 1 over a budget (status set) */
static int memo_add(Search *s, int key, int p, int sid, int uid, const uint64_t *words, uint64_t h) {
    if (s->count + 1 > s->max_states) { s->status = OVER_STATES; return 1; }
    if (s->count >= 0x7FFFFFF0u) { s->status = OVER_STATES; return 1; }
    if ((s->count + 1) * 2 > s->scap) {
        size_t ncap = s->scap * 2;
        if (!fits(s, ncap * sizeof(uint64_t))) { s->status = OVER_BYTES; return 1; }
        uint64_t *ns = calloc(ncap, sizeof(uint64_t));
        if (!ns) { s->status = OVER_BYTES; return 1; }
        for (size_t j = 0; j < s->scap; j++) {
            uint64_t slot = s->slots[j];
            if (!slot) continue;
            size_t q = slot_home(slot >> 32, ncap);
            while (ns[q]) q = (q + 1) & (ncap - 1);
            ns[q] = slot;
        }
        free(s->slots);
        s->bytes += (ncap - s->scap) * sizeof(uint64_t);
        s->slots = ns;
        s->scap = ncap;
    }
    if (s->count == (s->nchunks ? (size_t)1 << (FIRST_CHUNK + s->nchunks - 1) : 0)) {
        size_t entries = (size_t)1 << (FIRST_CHUNK + (s->nchunks ? s->nchunks - 1 : 0));
        size_t size = sizeof(uint64_t) * s->stride * entries;
        if (s->nchunks == MAX_CHUNKS || !fits(s, size)) { s->status = OVER_BYTES; return 1; }
        uint64_t *chunk = malloc(size);
        if (!chunk) { s->status = OVER_BYTES; return 1; }
        s->chunks[s->nchunks++] = chunk;
        s->bytes += size;
    }
    uint64_t *e = entry_at(s, s->count);
    e[0] = h;
    e[1] = ((uint64_t)(uint32_t)key << 32) | (uint32_t)p;
    e[2] = ((uint64_t)(uint32_t)sid << 32) | (uint32_t)uid;
    memcpy(e + 3, words, sizeof(uint64_t) * s->W);
    size_t mask = s->scap - 1, i = slot_home(h >> 32, s->scap);
    while (s->slots[i]) i = (i + 1) & mask;
    s->slots[i] = (h >> 32) << 32 | (uint64_t)(++s->count);
    return 0;
}

/* -- transitions, asked of Python once per (operation, state id) --------------------------------- */

/* What transition() returns besides an offset: a Python error is set, or a budget ended the search. */
enum { T_ERROR = -1, T_OVER = -2 };

/* Doubling the table: 0, or T_OVER with the status set when the budget (or the allocator) says no.
 * As with the memo, memory that cannot be had while searching ends the search "unknown". */
static int grow_transitions(Search *s) {
    size_t ncap = s->tcap * 2;
    if (!fits(s, (ncap - s->tcap) * (sizeof(uint64_t) + sizeof(int)))) { s->status = OVER_BYTES; return T_OVER; }
    uint64_t *nk = calloc(ncap, sizeof(uint64_t));
    int *nv = calloc(ncap, sizeof(int));
    if (!nk || !nv) { free(nk); free(nv); s->status = OVER_BYTES; return T_OVER; }
    for (size_t j = 0; j < s->tcap; j++) {
        if (!s->tkeys[j]) continue;
        size_t p = (size_t)splitmix(s->tkeys[j]) & (ncap - 1);
        while (nk[p]) p = (p + 1) & (ncap - 1);
        nk[p] = s->tkeys[j];
        nv[p] = s->tvals[j];
    }
    free(s->tkeys); free(s->tvals);
    s->bytes += (ncap - s->tcap) * (sizeof(uint64_t) + sizeof(int));
    s->tkeys = nk; s->tvals = nv; s->tcap = ncap;
    return 0;
}

/* Room in the pool for `m` more ids and their count: 0, or T_OVER with the status set. The pool is
 * indexed by int, so it also stops short of INT_MAX entries (past any sensible budget). */
static int reserve_pool(Search *s, size_t m) {
    if (m >= (size_t)INT_MAX - s->pool_len) { s->status = OVER_BYTES; return T_OVER; }
    size_t need = s->pool_len + m + 1;
    if (need <= s->pool_cap) return 0;
    size_t ncap = s->pool_cap * 2;
    while (ncap < need) ncap *= 2;
    if (!fits(s, (ncap - s->pool_cap) * sizeof(int))) { s->status = OVER_BYTES; return T_OVER; }
    int *np = realloc(s->pool, sizeof(int) * ncap);
    if (!np) { s->status = OVER_BYTES; return T_OVER; } /* the old pool is intact */
    s->bytes += (ncap - s->pool_cap) * sizeof(int);
    s->pool = np;
    s->pool_cap = ncap;
    return 0;
}

/* The offset in the pool of (count, ids...) for op in state sid; T_ERROR with a Python error set (the
 * callback raised, or returned something that is not a list of state ids), or T_OVER (status set).
 * Nothing is recorded on an error: run() may be called again and asks the callback again. */
static int transition(Search *s, int op, int sid) {
    int sym = s->osym[op];
    op = s->sym_rep[sym]; /* operations alike step alike: ask once per class */
    uint64_t key = (((uint64_t)(uint32_t)sym << 32) | (uint32_t)sid) + 1;
    size_t mask = s->tcap - 1, i = (size_t)splitmix(key) & mask;
    while (s->tkeys[i]) {
        if (s->tkeys[i] == key) return s->tvals[i];
        i = (i + 1) & mask;
    }
    PyObject *res = PyObject_CallFunction(s->step, "ii", op, sid);
    if (!res) return T_ERROR;
    PyObject *fast = PySequence_Fast(res, "the step callback must return a list of state ids");
    Py_DECREF(res);
    if (!fast) return T_ERROR;
    Py_ssize_t m = PySequence_Fast_GET_SIZE(fast);
    if (reserve_pool(s, (size_t)m) < 0) { Py_DECREF(fast); return T_OVER; }
    int off = (int)s->pool_len;
    /* State ids are how the search names states to the callback and keys its tables (as uint32); a
     * negative id would alias a large one and could never be asked about. Only exact ints are read,
     * so no Python code runs while the list is read. */
    for (Py_ssize_t j = 0; j < m; j++) {
        PyObject *item = PySequence_Fast_GET_ITEM(fast, j);
        if (!PyLong_Check(item)) {
            PyErr_Format(PyExc_TypeError, "the step callback returned a %.100s among the successors of operation "
                         "%d in state %d; state ids are ints", Py_TYPE(item)->tp_name, op, sid);
            Py_DECREF(fast);
            return T_ERROR;
        }
        int overflow;
        long v = PyLong_AsLongAndOverflow(item, &overflow);
        if (overflow || v > INT_MAX) {
            PyErr_Format(PyExc_OverflowError, "the step callback returned a state id past 2**31 - 1 for operation "
                         "%d in state %d", op, sid);
            Py_DECREF(fast);
            return T_ERROR;
        }
        if (v < 0) {
            PyErr_Format(PyExc_ValueError, "the step callback returned state id %ld for operation %d in state %d; "
                         "state ids are not negative", v, op, sid);
            Py_DECREF(fast);
            return T_ERROR;
        }
        s->pool[off + 1 + j] = (int)v;
    }
    Py_DECREF(fast);
    s->pool[off] = (int)m;
    s->pool_len += (size_t)m + 1;
    if ((s->tcount + 1) * 2 > s->tcap) {
        if (grow_transitions(s) < 0) return T_OVER;
        mask = s->tcap - 1;
        i = (size_t)splitmix(key) & mask;
        while (s->tkeys[i]) i = (i + 1) & mask;
    }
    s->tkeys[i] = key;
    s->tvals[i] = off;
    s->tcount++;
    return off;
}

/* -- the search (splitbrain/checker/search.py, _search) --------------------------------------------- */

/* The successors of `op` in state `sid`: at *off in the pool (count first), or (*off -1) the one native
 * successor *one; *n of them. 0; -1 with a Python error set (nothing recorded: ask again later); or
 * -2 with the status set (a budget). Every lookup counts as a step. */
static int successors(Search *s, int op, int sid, int *off, int *n, int *one) {
    if (s->kv) {
        int next = kv_step(s->kv, op, sid);
        if (next == KV_OVER_BUDGET) { s->status = OVER_BYTES; return -2; }
        *off = -1;
        *one = next;
        *n = next >= 0;
    } else {
        int at = transition(s, op, sid);
        if (at == T_ERROR) return -1;
        if (at == T_OVER) return -2;
        *off = at;
        *n = s->pool[at];
    }
    s->steps++;
    return 0;
}

static inline int successor(const Search *s, int off, int one, int j) {
    return off < 0 ? one : s->pool[off + 1 + j];
}

static inline void unlink_entry(int *nxt, int *prv, int x) {
    nxt[prv[x]] = nxt[x];
    if (nxt[x] != -1) prv[nxt[x]] = prv[x];
}

static inline void relink_entry(int *nxt, int *prv, int x) {
    if (nxt[x] != -1) prv[nxt[x]] = x;
    nxt[prv[x]] = x;
}

/* take call entry c and its return out of the lists; unlift puts them back in the reverse order, so
 * the links are restored exactly (Knuth's dancing links) */
static inline void lift(Search *s, int c) {
    int r = s->match[c];
    unlink_entry(s->nxt, s->prv, r);
    unlink_entry(s->rknxt, s->rkprv, r);
    unlink_entry(s->knxt, s->kprv, c);
    unlink_entry(s->knxt, s->kprv, r);
}

static inline void unlift(Search *s, int c) {
    int r = s->match[c];
    relink_entry(s->knxt, s->kprv, r);
    relink_entry(s->knxt, s->kprv, c);
    relink_entry(s->rknxt, s->rkprv, r);
    relink_entry(s->nxt, s->prv, r);
}

/* key k's first pending return (n + 1 when it has none) */
static inline int key_first_return(const Search *s, int k) {
    int p = s->rknxt[s->n + 1 + k];
    return p == -1 ? s->n + 1 : p;
}

/* the lanes of key k's operations linearized past entry p, as W words */
static inline void lanes_past(const Search *s, int k, int p, uint64_t *w) {
    memset(w, 0, sizeof(uint64_t) * s->W);
    const int *ahead = s->ahead + s->lane_off[k];
    for (int l = 0; l < s->lanes[k]; l++) {
        int a = ahead[l];
        if (a >= 0 && s->ret_of[a] > p) w[l >> 6] |= 1ull << (l & 63);
    }
}

/* the calls of class c before entry e */
static inline int available(const Search *s, int c, int e) {
    const int *calls = s->cls_calls + s->cls_off[c];
    int lo = 0, hi = s->cls_len[c];
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (calls[mid] < e) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* a BFS entry's count of class c */
static inline int bfs_count(const Search *s, const Bfs *b, int c) {
    const int *u = s->bfs_use + b->use;
    for (int i = 0; i < b->npairs; i++)
        if (u[2 * i] == c) return u[2 * i + 1];
    return 0;
}

/* Does the usage of `more` (pairs at mu, mn) cover that of entry b (each class at least as often)? */
static int covers(const Search *s, const int *mu, int mn, const Bfs *b) {
    const int *u = s->bfs_use + b->use;
    for (int i = 0; i < b->npairs; i++) {
        int c = u[2 * i], have = 0;
        for (int j = 0; j < mn; j++)
            if (mu[2 * j] == c) have = mu[2 * j + 1];
        if (have < u[2 * i + 1]) return 0;
    }
    return 1;
}

/* how many of the sorted entries a[0, len) precede e */
static inline int preceding(const int *a, int len, int e) {
    int lo = 0, hi = len;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (a[mid] < e) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static inline uint64_t cached_hash(int k, int sid, int kind, int epoch) {
    return splitmix(splitmix(((uint64_t)(uint32_t)k << 32) | (uint32_t)sid) ^ ((uint64_t)(uint32_t)kind << 32 | (uint32_t)epoch));
}

/* the index in `cached` of (k, sid, kind, epoch), or -1 */
static int cached_find(const Search *s, int k, int sid, int kind, int epoch) {
    if (!s->cslots_cap) return -1;
    size_t mask = (size_t)s->cslots_cap - 1;
    for (size_t i = (size_t)cached_hash(k, sid, kind, epoch) & mask; s->cslots[i]; i = (i + 1) & mask) {
        const Cached *c = &s->cached[s->cslots[i] - 1];
        if (c->key == k && c->sid == sid && c->kind == kind && c->epoch == epoch) return s->cslots[i] - 1;
    }
    return -1;
}

/* Every crash sequence from `sid` minimal in its usage at entry e (pool.Pool._all, in the same order),
 * kept in `cached` under the signature of e, or its epoch when the search for them asked about a third
 * call of a class. Its index in `cached`; -1 with a Python error (nothing kept: computed again on the
 * next run); -2 with the status set. */
static int all_sequences(Search *s, int k, int sid, int e) {
    int sig = preceding(s->key_firsts + s->key_firsts_off[k], s->key_firsts_off[k + 1] - s->key_firsts_off[k], e);
    int found = cached_find(s, k, sid, 0, sig);
    if (found >= 0) return found;
    int epoch = preceding(s->key_calls + s->key_calls_off[k], s->key_calls_off[k + 1] - s->key_calls_off[k], e);
    found = cached_find(s, k, sid, 1, epoch);
    if (found >= 0) return found;
    int ncls = 0;
    for (int j = s->key_cls_off[k]; j < s->key_cls_off[k + 1]; j++) {
        int c = s->key_cls[j], a = available(s, c, e);
        if (a) { s->avail_c[ncls] = c; s->avail_a[ncls] = a; ncls++; }
    }
    int nbfs = 1, seq_len = 0, use_len = 0, over = 0, third = 0;
    s->bfs[0] = (Bfs){.sid = sid, .seq = 0, .len = 0, .use = 0, .npairs = 0};
    for (int i = 0; i < nbfs && !over; i++) {
        for (int j = 0; j < ncls && !over; j++) {
            int c = s->avail_c[j], a = s->avail_a[j], used = bfs_count(s, &s->bfs[i], c);
            third |= used >= 2;
            if (used >= a) continue;
            int off, cnt, one;
            int rc = successors(s, s->cls_ops[s->cls_off[c]], s->bfs[i].sid, &off, &cnt, &one);
            if (rc < 0) return rc;
            if (!cnt) continue;
            /* `more`: entry i's usage with c once more, built after the used part of bfs_use */
            Bfs *b = &s->bfs[i];
            if (grow(s, (void **)&s->bfs_use, &s->bfs_use_cap, sizeof(int), (size_t)use_len + 2 * (size_t)b->npairs + 2))
                return -2;
            b = &s->bfs[i];
            int *mu = s->bfs_use + use_len, mn = 0, placed = 0;
            const int *u = s->bfs_use + b->use;
            for (int q = 0; q < b->npairs; q++) {
                if (!placed && u[2 * q] >= c) {
                    placed = 1;
                    if (u[2 * q] == c) { mu[2 * mn] = c; mu[2 * mn + 1] = u[2 * q + 1] + 1; mn++; continue; }
                    mu[2 * mn] = c; mu[2 * mn + 1] = 1; mn++;
                }
                mu[2 * mn] = u[2 * q]; mu[2 * mn + 1] = u[2 * q + 1]; mn++;
            }
            if (!placed) { mu[2 * mn] = c; mu[2 * mn + 1] = 1; mn++; }
            for (int q = 0; q < cnt; q++) {
                int s2 = successor(s, off, one, q), known = 0;
                for (int r = 0; r < nbfs && !known; r++)
                    known = s->bfs[r].sid == s2 && covers(s, mu, mn, &s->bfs[r]);
                if (known) continue;
                b = &s->bfs[i];
                if (grow(s, (void **)&s->bfs_seq, &s->bfs_seq_cap, sizeof(int), (size_t)seq_len + b->len + 1)) return -2;
                b = &s->bfs[i];
                memcpy(s->bfs_seq + seq_len, s->bfs_seq + b->seq, sizeof(int) * (size_t)b->len);
                s->bfs_seq[seq_len + b->len] = c;
                s->bfs[nbfs] = (Bfs){.sid = s2, .seq = seq_len, .len = b->len + 1, .use = use_len, .npairs = mn};
                seq_len += b->len + 1;
                if (++nbfs > MAX_SEQUENCES) { over = 1; break; }
                /* the next entry's usage goes after this one's */
                if (grow(s, (void **)&s->bfs_use, &s->bfs_use_cap, sizeof(int), (size_t)use_len + 4 * (size_t)mn + 2))
                    return -2;
                memcpy(s->bfs_use + use_len + 2 * mn, s->bfs_use + use_len, sizeof(int) * 2 * (size_t)mn);
                use_len += 2 * mn;
                mu = s->bfs_use + use_len;
            }
        }
    }
    /* keep them: the sequences (without the empty one), then the cache entry */
    if (grow(s, (void **)&s->seqs, &s->seq_cap, sizeof(Seq), (size_t)s->seq_top + nbfs) ||
        grow(s, (void **)&s->seq_cls, &s->seq_cls_cap, sizeof(int), (size_t)s->seq_cls_top + seq_len + 1) ||
        grow(s, (void **)&s->seq_use, &s->seq_use_cap, sizeof(int), (size_t)s->seq_use_top + use_len + 1) ||
        grow(s, (void **)&s->cached, &s->cached_cap, sizeof(Cached), (size_t)s->ncached + 1))
        return -2;
    if ((size_t)(s->ncached + 1) * 2 > (size_t)s->cslots_cap) {
        int ncap = s->cslots_cap ? 2 * s->cslots_cap : 256;
        if (ncap > INT_MAX / 2 || !fits(s, sizeof(int) * (size_t)ncap)) { s->status = OVER_BYTES; return -2; }
        int *ns = calloc((size_t)ncap, sizeof(int));
        if (!ns) { s->status = OVER_BYTES; return -2; }
        for (int j = 0; j < s->ncached; j++) {
            Cached *c = &s->cached[j];
            size_t q = (size_t)cached_hash(c->key, c->sid, c->kind, c->epoch) & (size_t)(ncap - 1);
            while (ns[q]) q = (q + 1) & (size_t)(ncap - 1);
            ns[q] = j + 1;
        }
        free(s->cslots);
        s->bytes += sizeof(int) * (size_t)(ncap - s->cslots_cap);
        s->cslots = ns;
        s->cslots_cap = ncap;
    }
    int kind = over || third, at = kind ? epoch : sig;
    Cached *c = &s->cached[s->ncached];
    *c = (Cached){.key = k, .sid = sid, .kind = kind, .epoch = at, .first = s->seq_top, .count = over ? -1 : nbfs - 1};
    for (int i = 1; i < nbfs && !over; i++) {
        Bfs *b = &s->bfs[i];
        memcpy(s->seq_cls + s->seq_cls_top, s->bfs_seq + b->seq, sizeof(int) * (size_t)b->len);
        memcpy(s->seq_use + s->seq_use_top, s->bfs_use + b->use, sizeof(int) * 2 * (size_t)b->npairs);
        s->seqs[s->seq_top++] = (Seq){.sid = b->sid, .cls = s->seq_cls_top, .len = b->len, .use = s->seq_use_top,
                                      .npairs = b->npairs};
        s->seq_cls_top += b->len;
        s->seq_use_top += 2 * b->npairs;
    }
    size_t mask = (size_t)s->cslots_cap - 1, q = (size_t)cached_hash(k, sid, kind, at) & mask;
    while (s->cslots[q]) q = (q + 1) & mask;
    s->cslots[q] = ++s->ncached;
    return s->ncached - 1;
}

/* Do sequence q's uses fit the counts left (avail_of, filled for the frame's entry)? */
static int seq_fits(const Search *s, const Seq *q) {
    const int *u = s->seq_use + q->use;
    for (int i = 0; i < q->npairs; i++)
        if (s->used[u[2 * i]] + u[2 * i + 1] > s->avail_of[u[2 * i]]) return 0;
    return 1;
}

/* The crash sequences the frame tries (pool.Pool.sequences, in the same order), pushed on `sel`: 0; -1
 * with a Python error (nothing kept: chosen again on the next run); -2 with the status set. */
static int sequences(Search *s, Frame *fr) {
    int k = fr->key;
    if (s->key_calls_off[k + 1] == s->key_calls_off[k] || s->key_calls[s->key_calls_off[k]] > fr->e) {
        fr->sel_start = s->sel_top; /* no crashed call of the key before e: none (pool.Pool.sequences too) */
        fr->seq_n = 0;
        return 0;
    }
    int at = all_sequences(s, fr->key, fr->sid, fr->e);
    if (at < 0) return at;
    Cached *c = &s->cached[at];
    if (c->count < 0) { s->status = OVER_SEQUENCES; return -2; }
    if (grow(s, (void **)&s->sel, &s->sel_cap, sizeof(int), (size_t)s->sel_top + 2 * (size_t)c->count + 1)) return -2;
    int *out = s->sel + s->sel_top, n = 0;
    for (int j = s->key_cls_off[fr->key]; j < s->key_cls_off[fr->key + 1]; j++)
        s->avail_of[s->key_cls[j]] = available(s, s->key_cls[j], fr->e);
    if (s->exact) {
        for (int i = 0; i < c->count; i++)
            if (seq_fits(s, &s->seqs[c->first + i])) out[n++] = c->first + i;
    } else {
        /* one per end state: its first that fits, those first; then, for the states none fits, their first.
         * The scratch after `out` lists each end state's first sequence, in order of first appearance. */
        int *firsts = out + c->count, nfirsts = 0;
        for (int i = 0; i < c->count; i++) {
            const Seq *q = &s->seqs[c->first + i];
            int seen = 0, taken = 0;
            for (int j = 0; j < nfirsts && !seen; j++) seen = s->seqs[firsts[j]].sid == q->sid;
            if (!seen) firsts[nfirsts++] = c->first + i;
            for (int j = 0; j < n && !taken; j++) taken = s->seqs[out[j]].sid == q->sid;
            if (!taken && seq_fits(s, q)) out[n++] = c->first + i;
        }
        int chosen = n;
        for (int j = 0; j < nfirsts; j++) {
            int taken = 0;
            for (int i = 0; i < chosen && !taken; i++) taken = s->seqs[out[i]].sid == s->seqs[firsts[j]].sid;
            if (!taken) out[n++] = firsts[j];
        }
    }
    fr->sel_start = s->sel_top;
    fr->seq_n = n;
    s->sel_top += n;
    return 0;
}

/* Put the current sequence's crashed calls and candidate `c` (to state s2) on the path; the dead check
 * of the child is the caller's. 0, or -2 with the status set (a budget). */
static int apply_move(Search *s, Frame *fr, int c, int s2) {
    int k = fr->key, i = s->opi[c], lane = s->lane_off[k] + s->olane[i];
    if (s->nmoves >= s->nops + 1) { s->status = OVER_BYTES; return -2; } /* never: one move per completed op */
    Move *m = &s->moves[s->nmoves];
    *m = (Move){.key = k, .c = c, .ncrash = 0, .before = s->part[k], .lane_was = s->ahead[lane], .uid_was = s->uvec[k]};
    for (int j = 0; j < fr->seq_len; j++) {
        int cls = s->seq_cls[fr->seq_cls + j], used = s->used[cls]++;
        int past = used >= available(s, cls, fr->e), op = s->cls_ops[s->cls_off[cls] + (used < s->cls_len[cls] ? used : s->cls_len[cls] - 1)];
        s->over += past;
        if (grow(s, (void **)&s->mcrash, &s->mcrash_cap, sizeof(int), (size_t)s->mcrash_top + 2)) return -2;
        s->mcrash[s->mcrash_top++] = cls;
        s->mcrash[s->mcrash_top++] = past;
        m->ncrash++;
        if (s->exact) {
            int id = uv_bump(&s->uv, s->uvec[k], cls, 1);
            if (id < 0) { s->status = OVER_BYTES; return -2; }
            s->uvec[k] = id;
        }
        if (px_push(&s->px, op) < 0) { s->status = OVER_BYTES; return -2; }
    }
    lift(s, c);
    s->remaining--;
    s->ahead[lane] = i;
    s->part[k] = s2;
    s->nmoves++;
    if (px_push(&s->px, i) < 0) { s->status = OVER_BYTES; return -2; }
    return 0;
}

static void undo_move(Search *s) {
    Move *m = &s->moves[--s->nmoves];
    int k = m->key, c = m->c;
    px_pop(&s->px);
    s->part[k] = m->before;
    s->ahead[s->lane_off[k] + s->olane[s->opi[c]]] = m->lane_was;
    s->uvec[k] = m->uid_was;
    unlift(s, c);
    s->remaining++;
    for (int j = 0; j < m->ncrash; j++) {
        px_pop(&s->px);
        int past = s->mcrash[--s->mcrash_top], cls = s->mcrash[--s->mcrash_top];
        s->used[cls]--;
        s->over -= past;
    }
}

/* the deepest prefix is now the path (a reference to its node) */
static void note_deepest(Search *s, int blocked, int sid) {
    px_incref(&s->px, s->px.leaf);
    px_decref(&s->px, s->deepest_node);
    s->deepest_node = s->px.leaf;
    s->deepest_depth = s->px.depth;
    s->blocked = blocked;
    s->deepest_sid = sid;
}

/* Make the frame for the configuration the path has reached: 1 with a frame pushed, 0 when the search
 * ended (the status says how), -1 with a Python error (nothing pushed: made again on the next run). */
static int enter(Search *s, int *reason) {
    if (s->remaining == 0) return (s->status = VALID), 0;
    int e = s->nxt[0]; /* the first pending return: remaining > 0, so there is one */
    if (e == s->target) { /* a prefix that reaches the target */
        note_deepest(s, s->opi[e], s->part[s->okey[s->opi[e]]]);
        return (s->status = VALID), 0;
    }
    int k = s->okey[s->opi[e]], top = s->nframes, cstart = s->cand_top;
    Frame *fr = &s->frames[top];
    memset(fr, 0, sizeof *fr);
    fr->key = k;
    fr->e = e;
    fr->cstart = fr->ci = cstart;
    int alike = 0; /* some candidate's class has other completed operations */
    for (int c = s->knxt[s->n + 1 + k]; c != e; c = s->knxt[c]) {
        if (grow(s, (void **)&s->cands, &s->cand_cap, sizeof(int), (size_t)s->cand_top + 1)) return 0;
        s->cands[s->cand_top++] = c;
        alike |= s->sym_many[s->osym[s->opi[c]]];
    }
    /* of candidates alike, only the one that returns first (search.py: "Alike, first due first"): two
     * passes, the earliest return per class, then the candidates that have it (returns are distinct) */
    int kept = alike ? cstart : s->cand_top;
    for (int j = cstart; j < s->cand_top && alike; j++) s->sym_min[s->osym[s->opi[s->cands[j]]]] = INT_MAX;
    for (int j = cstart; j < s->cand_top && alike; j++) {
        int op = s->opi[s->cands[j]], *m = &s->sym_min[s->osym[op]];
        if (s->ret_of[op] < *m) *m = s->ret_of[op];
    }
    for (int j = cstart; j < s->cand_top && alike; j++) {
        int op = s->opi[s->cands[j]];
        if (s->ret_of[op] == s->sym_min[s->osym[op]]) s->cands[kept++] = s->cands[j];
    }
    s->cand_top = kept;
    fr->cend = s->cand_top;
    fr->sid = fr->seq_sid = s->part[k];
    fr->uid = s->exact ? s->uvec[k] : 0;
    fr->seq_n = -1;
    fr->si = -1;
    fr->sel_start = s->sel_top;
    uint64_t *words = s->fwords + (size_t)top * s->W;
    lanes_past(s, k, e, words);
    int dead = k != s->checked && memo_contains(s, k, e, fr->sid, fr->uid, words,
                                                memo_hash(k, e, fr->sid, fr->uid, words, s->W));
    if (!dead) {
        for (int j = cstart; j < fr->cend; j++) {
            int op = s->opi[s->cands[j]];
            if (!s->oread[op]) continue;
            int off, n, one, rc = successors(s, op, fr->sid, &off, &n, &one);
            if (rc == -1) { s->cand_top = cstart; return -1; }
            if (rc == -2) return 0;
            if (n == 1 && successor(s, off, one, 0) == fr->sid) {
                fr->forced = s->cands[j];
                break;
            }
        }
    }
    s->checked = -1;
    s->nframes++;
    *reason = dead ? k : -1;
    return 1;
}

/* Run until the verdict, a budget, or `slice` (>= 1) more backtracks; returns the status, or -1 with a
 * Python error set (from the step callback), after which run() may be called again. The arguments were
 * checked by Search_init, so every index here is in range: see check_entries and check_layout. */
static int search_run(Search *s, long long slice) {
    long long stop = slice > LLONG_MAX - s->backtracks ? LLONG_MAX : s->backtracks + slice;
    for (;;) {
        Frame *fr;
        int k, reason;
        if (s->entering) {
            int rc = enter(s, &reason);
            if (rc < 0) return -1;
            if (rc == 0) return s->status;
            s->entering = 0;
            fr = &s->frames[s->nframes - 1];
            k = fr->key;
        } else {
            fr = &s->frames[s->nframes - 1];
            k = fr->key;
            reason = (s->failed >= 0 && s->failed != k) ? s->failed : -1; /* backjump */
            s->failed = -1;
        }
        if (reason < 0) {
            for (;;) {
                if (fr->succ_i < fr->succ_n) {
                    int s2 = successor(s, fr->succ_off, fr->one, fr->succ_i);
                    fr->succ_i++;
                    if (apply_move(s, fr, fr->cur, s2) < 0) return s->status;
                    if (s->remaining) {
                        int p = key_first_return(s, k), uid = s->exact ? s->uvec[k] : 0;
                        lanes_past(s, k, p, s->child);
                        if (memo_contains(s, k, p, s2, uid, s->child, memo_hash(k, p, s2, uid, s->child, s->W))) {
                            undo_move(s);
                            continue;
                        }
                    }
                    s->checked = k;
                    s->entering = 1;
                    break;
                }
                int op, rc, off, n, one;
                if (fr->forced) { /* a forced read: the only move */
                    if (fr->cur) break;
                    rc = successors(s, s->opi[fr->forced], fr->sid, &off, &n, &one);
                    if (rc == -1) return -1;
                    if (rc == -2) return s->status;
                    fr->cur = fr->forced;
                } else if (fr->ci < fr->cend) {
                    op = s->opi[s->cands[fr->ci]];
                    rc = successors(s, op, fr->seq_sid, &off, &n, &one);
                    if (rc == -1) return -1; /* ci not advanced: a later run() tries this candidate again */
                    if (rc == -2) return s->status;
                    fr->cur = s->cands[fr->ci++];
                } else {
                    if (fr->seq_n < 0) {
                        rc = sequences(s, fr);
                        if (rc == -1) return -1;
                        if (rc == -2) return s->status;
                    }
                    if (fr->si + 1 >= fr->seq_n) break;
                    Seq *q = &s->seqs[s->sel[fr->sel_start + ++fr->si]];
                    fr->seq_sid = q->sid;
                    fr->seq_cls = q->cls;
                    fr->seq_len = q->len;
                    fr->ci = fr->cstart;
                    continue;
                }
                fr->succ_off = off;
                fr->one = one;
                fr->succ_n = n;
                fr->succ_i = 0;
            }
            if (s->entering) continue;
            /* every key-k move failed because of key k: this configuration is dead */
            reason = k;
            uint64_t *words = s->fwords + (size_t)(s->nframes - 1) * s->W;
            if (memo_add(s, k, fr->e, fr->sid, fr->uid, words, memo_hash(k, fr->e, fr->sid, fr->uid, words, s->W)))
                return s->status;
        }
        /* this configuration is dead because of key `reason` */
        s->backtracks++;
        if (fr->e > s->culprit) s->culprit = fr->e;
        if (s->over == 0) { /* a real linearizable prefix (in relaxed mode it may reuse a crashed call) */
            if (s->px.depth > s->deepest_depth) note_deepest(s, s->opi[fr->e], fr->sid);
            px_dead_end(&s->px);
        }
        s->cand_top = fr->cstart;
        s->sel_top = fr->sel_start;
        s->nframes--;
        if (s->nframes == 0) return s->status = INVALID;
        undo_move(s);
        s->failed = reason;
        if (s->backtracks >= stop) return RUNNING;
    }
}

static PyObject *Search_run(Search *s, PyObject *args) {
    long long slice;
    if (!PyArg_ParseTuple(args, "L", &slice)) return NULL;
    if (check_ready(s) < 0) return NULL;
    if (slice < 1) {
        PyErr_Format(PyExc_ValueError, "run(slice): slice is a number of backtracks, at least 1, not %lld", slice);
        return NULL;
    }
    /* The step callback runs inside search_run; were it to run this search too, the inner run would
     * move the stack the outer one is standing on. */
    if (s->running) {
        PyErr_SetString(PyExc_RuntimeError, "Search.run() called from its own step callback");
        return NULL;
    }
    if (s->status != RUNNING) return PyLong_FromLong(s->status);
    s->running = 1;
    int st = search_run(s, slice);
    s->running = 0;
    if (st < 0) return NULL;
    return PyLong_FromLong(st);
}

static PyObject *Search_witness(Search *s, PyObject *unused) {
    if (check_ready(s) < 0) return NULL;
    if (!s->px_ready) return PyList_New(0);
    return px_list(&s->px, s->px.leaf, NULL);
}

/* (deepest prefix, blocked op or None, state id after the prefix, culprit op or None) */
static PyObject *Search_deepest(Search *s, PyObject *unused) {
    if (check_ready(s) < 0) return NULL;
    PyObject *l = s->px_ready ? px_list(&s->px, s->deepest_node, NULL) : PyList_New(0);
    if (!l) return NULL;
    PyObject *blocked = s->blocked < 0 ? Py_None : PyLong_FromLong(s->blocked);
    PyObject *culprit = s->culprit ? PyLong_FromLong(s->opi[s->culprit]) : Py_None;
    if (!blocked || !culprit) {
        Py_DECREF(l);
        if (blocked && blocked != Py_None) Py_DECREF(blocked);
        if (culprit && culprit != Py_None) Py_DECREF(culprit);
        return NULL;
    }
    if (blocked == Py_None) Py_INCREF(blocked);
    if (culprit == Py_None) Py_INCREF(culprit);
    return Py_BuildValue("(NNiN)", l, blocked, s->deepest_sid, culprit);
}

/* longest(cap) -> op -> its longest prefix (see px_longest) */
static PyObject *Search_longest(Search *s, PyObject *args) {
    long long cap;
    if (!PyArg_ParseTuple(args, "L", &cap)) return NULL;
    if (check_ready(s) < 0) return NULL;
    if (!s->px_ready) return PyDict_New();
    return px_longest(&s->px, cap);
}

/* (memo entries, steps, backtracks, bytes, uses past a class's count on the path) */
static PyObject *Search_stats(Search *s, PyObject *unused) {
    if (check_ready(s) < 0) return NULL;
    return Py_BuildValue("(nLLni)", (Py_ssize_t)s->count, s->steps, s->backtracks, (Py_ssize_t)s->bytes, s->over);
}

static PyMethodDef Search_methods[] = {
    {"run", (PyCFunction)Search_run, METH_VARARGS, "run(slice) -> status (0 running, 1 valid, 2 invalid, "
                                                   "3 state budget, 4 memory budget, 5 crash sequences)"},
    {"witness", (PyCFunction)Search_witness, METH_NOARGS, "the path: the linearization found (operations)"},
    {"deepest", (PyCFunction)Search_deepest, METH_NOARGS, "(deepest prefix, blocked op, state id, culprit op)"},
    {"longest", (PyCFunction)Search_longest, METH_VARARGS, "longest(cap): op -> longest linearizable prefix with it"},
    {"stats", (PyCFunction)Search_stats, METH_NOARGS, "(memo entries, steps, backtracks, bytes, uses past counts)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject SearchType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "splitbrain.checker._fastcore.Search",
    .tp_basicsize = sizeof(Search),
    .tp_dealloc = (destructor)Search_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "One linearizability search over integer operation and state ids.",
    .tp_methods = Search_methods,
    .tp_init = (initproc)Search_init,
    .tp_new = PyType_GenericNew,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastcore", "Compiled core of splitbrain's linearizability search.", -1, NULL,
};

PyMODINIT_FUNC PyInit__fastcore(void) {
    if (PyType_Ready(&SearchType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&SearchType);
    if (PyModule_AddObject(m, "Search", (PyObject *)&SearchType) < 0) {
        Py_DECREF(&SearchType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
