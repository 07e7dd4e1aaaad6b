/* The compiled core of the linearizability search (optional; splitbrain.checker.fast drives it).
 *
 * It runs the search of splitbrain/checker/reduced.py over integers: operations are numbered, model
 * states are interned to ids by the Python side, and a transition (operation, state id) -> successor
 * ids is asked of Python only the first time the search meets it, then kept in a hash table. With one
 * key (every operation's key 0) the search is exactly Wing & Gong's with Lowe's memo, as in
 * splitbrain/checker/search.py: the same order of candidates and successors, the same witness and the
 * same counterexample (tests/test_checker_fast.py checks this against the reference).
 *
 * The memo holds dead projections (key, that key's linearized set as a bitset, that key's state id).
 * Bitsets are hashed incrementally (Zobrist: the XOR of a random word per linearized operation), so a
 * lookup costs one multiply and a compare. Memory is counted in bytes as it is allocated, and every
 * table asks the budget before it is allocated or grows (the fixed tables, memo, transitions, successor
 * pool, candidate stack, longest-prefix snapshots, kv strings); running past it, or an allocation that
 * fails mid-search, ends the search with a status the caller turns into "unknown", never a crash and
 * never a MemoryError.
 *
 * The module is importable by anyone, so it trusts no argument: Search() checks every count and index
 * it is given (the entries must be what search.entries() builds, keys and bits in range, one bit per
 * operation of a key), and each state id the step callback returns, raising TypeError, ValueError or
 * OverflowError. Checked once there, they let the search loop index without checks
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

enum { RUNNING = 0, VALID = 1, INVALID = 2, OVER_STATES = 3, OVER_BYTES = 4 };
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

typedef struct {
    /* succ_off: the candidate's successors in the pool, or -1 for the one native successor `one` */
    int key, cstart, cend, ci, succ_off, succ_n, si, sid, first_ret, one;
    uint64_t khash;
} Frame;

typedef struct {
    int refs, len;
    PyObject *list; /* only while Search_longest runs: this snapshot as a Python list */
    int ops[];
} Snap;

typedef struct {
    PyObject_HEAD
    int n, nops, nkeys, W;
    int *kind, *opi, *match, *nxt, *prv, *ekey, *okey, *olocal;
    uint64_t *z;
    uint64_t *klin, *khash;
    int *part;
    int remaining;
    PyObject *step;
    KVStep *kv; /* the native kv step, or NULL: ask `step` */
    /* transitions: (op << 32 | sid) + 1 -> offset into pool (count, then ids) */
    uint64_t *tkeys;
    int *tvals;
    size_t tcap, tcount;
    int *pool;
    size_t pool_len, pool_cap;
    /* memo of dead projections */
    uint64_t *slots; /* open addressing: the entry's hash >> 32 (its tag), then its index + 1; 0 empty */
    size_t scap, count;
    uint64_t *chunks[MAX_CHUNKS]; /* entries (hash, key << 32 | sid, bitset words); see FIRST_CHUNK */
    size_t nchunks, stride;
    /* search stack */
    Frame *frames;
    int nframes;
    int *cands;
    int cand_top, cand_cap;
    uint64_t *kstack;
    uint64_t *child; /* W words: the bitset of the configuration being tried */
    int *path;
    int *path_floor; /* with track_longest: a lower bound of min(longest recorded) over path[0..d] */
    int npath;
    int entering, failed, status;
    int checked_key; /* the key whose projection the last push found not dead, or -1 */
    int ready;       /* Search_init succeeded: the methods may read the tables */
    int running;     /* inside run(): the step callback may not run this search again */
    /* results */
    int *deepest;
    int deepest_len, blocked, deepest_sid;
    int track_longest;
    Snap **best;
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

static inline size_t snap_size(int len) { return sizeof(Snap) + sizeof(int) * (size_t)len; }

static inline void snap_release(Search *s, Snap *p) {
    if (p && --p->refs == 0) {
        s->bytes -= snap_size(p->len);
        free(p);
    }
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

/* The entries must be what search.entries() builds, because the search relies on it for every index:
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

/* Each operation's key is in [0, nkeys) and its bit in [0, 64 W); within a key the bits are 0, 1, ...,
 * one per operation (the memo tells configurations apart by them). */
static int check_ops(Search *s) {
    int nops = s->nops, nkeys = s->nkeys, result = -1;
    long long bits = 64LL * s->W;
    int *size = calloc((size_t)nkeys + 1, sizeof(int));
    unsigned char *seen = calloc((size_t)nops + 1, 1);
    if (!size || !seen) { PyErr_NoMemory(); goto done; }
    for (int op = 0; op < nops; op++) {
        int k = s->okey[op], b = s->olocal[op];
        if (k < 0 || k >= nkeys) {
            PyErr_Format(PyExc_ValueError, "okey[%d] = %d is not a key (there are %d)", op, k, nkeys);
            goto done;
        }
        if (b < 0 || b >= bits) {
            PyErr_Format(PyExc_ValueError, "olocal[%d] = %d is not a bit of a %d-word set", op, b, s->W);
            goto done;
        }
        size[k]++;
    }
    /* size[k] becomes the offset of key k's bits in `seen` */
    for (int k = 0, at = 0; k < nkeys; k++) {
        int m = size[k];
        size[k] = at;
        at += m;
    }
    size[nkeys] = nops;
    for (int op = 0; op < nops; op++) {
        int k = s->okey[op], at = size[k] + s->olocal[op];
        if (at >= size[k + 1] || seen[at]) {
            PyErr_Format(PyExc_ValueError, "olocal[%d] = %d: the bits of key %d must be 0, 1, ... once each",
                         op, s->olocal[op], k);
            goto done;
        }
        seen[at] = 1;
    }
    result = 0;
done:
    free(size);
    free(seen);
    return result;
}

static void Search_dealloc(Search *s) {
    free(s->kind); free(s->opi); free(s->match); free(s->nxt); free(s->prv); free(s->ekey);
    free(s->okey); free(s->olocal); free(s->z); free(s->klin); free(s->khash); free(s->part);
    free(s->tkeys); free(s->tvals); free(s->pool); free(s->slots);
    for (size_t i = 0; i < s->nchunks; i++) free(s->chunks[i]);
    free(s->frames); free(s->cands); free(s->kstack); free(s->child); free(s->path); free(s->path_floor);
    free(s->deepest);
    if (s->best) {
        for (int i = 0; i < s->nops; i++) snap_release(s, s->best[i]);
        free(s->best);
    }
    kv_free(s->kv);
    Py_XDECREF(s->step);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

/* Search(kind, opi, match, okey, olocal, nkeys, width, step, init_sid, max_states, max_bytes, track[, kv])
 * kv: None, or (codes, texts, strings) for the native kv step (see _kvstep.h); then `step` is not called.
 * Every argument is checked (see check_entries and check_ops); bad ones raise TypeError, ValueError or
 * OverflowError. The search's tables are sized from the checked counts and allocated only when they fit
 * the budget; when they do not, run() returns OVER_BYTES at once. */
static int Search_init(Search *s, PyObject *args, PyObject *kw) {
    PyObject *kind, *opi, *match, *okey, *olocal, *step, *max_states, *max_bytes, *kv = Py_None;
    int nkeys, width, init_sid, track;
    if (kw && PyDict_GET_SIZE(kw)) {
        PyErr_SetString(PyExc_TypeError, "Search() takes no keyword arguments");
        return -1;
    }
    if (!PyArg_ParseTuple(args, "OOOOOiiOiOOp|O", &kind, &opi, &match, &okey, &olocal, &nkeys, &width,
                          &step, &init_sid, &max_states, &max_bytes, &track, &kv))
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
    if (n1 < 0 || nops < 0 || seq_len(opi, "opi") < 0 || seq_len(match, "match") < 0 || seq_len(olocal, "olocal") < 0)
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
    if (!(s->kind = int_array(s, kind, "kind", n1)) || !(s->opi = int_array(s, opi, "opi", n1)) ||
        !(s->match = int_array(s, match, "match", n1)) || !(s->okey = int_array(s, okey, "okey", nops)) ||
        !(s->olocal = int_array(s, olocal, "olocal", nops)))
        return -1;
    if (check_entries(s) < 0 || check_ops(s) < 0) return -1;
    s->failed = -1;
    s->checked_key = -1;
    s->blocked = -1;
    s->deepest_sid = init_sid;
    /* what the results read, whatever the budget */
    s->deepest = counted(s, sizeof(int) * ((size_t)nops + 1));
    s->best = counted(s, sizeof(Snap *) * ((size_t)nops + 1));
    if (!s->deepest || !s->best) { PyErr_NoMemory(); return -1; }
    /* the search's tables; budgeted() stops at the first that does not fit */
    size_t n1z = (size_t)n1, o1 = (size_t)nops + 1, depth = (size_t)nops + 2, W = (size_t)width, K = (size_t)nkeys;
    s->cand_cap = 2 * s->n + 16;
    s->tcap = 1024;
    s->pool_cap = 4096;
    s->scap = 1024;
    s->stride = 2 + W;
    if (!(s->nxt = budgeted(s, sizeof(int) * n1z)) || !(s->prv = budgeted(s, sizeof(int) * n1z)) ||
        !(s->ekey = budgeted(s, sizeof(int) * n1z)) || !(s->z = budgeted(s, sizeof(uint64_t) * o1)) ||
        !(s->klin = budgeted(s, sizeof(uint64_t) * K * W)) || !(s->khash = budgeted(s, sizeof(uint64_t) * K)) ||
        !(s->part = budgeted(s, sizeof(int) * K)) || !(s->frames = budgeted(s, sizeof(Frame) * depth)) ||
        !(s->cands = budgeted(s, sizeof(int) * (size_t)s->cand_cap)) ||
        !(s->kstack = budgeted(s, sizeof(uint64_t) * depth * W)) || !(s->child = budgeted(s, sizeof(uint64_t) * W)) ||
        !(s->path = budgeted(s, sizeof(int) * o1)) || !(s->path_floor = budgeted(s, sizeof(int) * o1)) ||
        !(s->tkeys = budgeted(s, sizeof(uint64_t) * s->tcap)) || !(s->tvals = budgeted(s, sizeof(int) * s->tcap)) ||
        !(s->pool = budgeted(s, sizeof(int) * s->pool_cap)) || !(s->slots = budgeted(s, sizeof(uint64_t) * s->scap))) {
        if (PyErr_Occurred()) return -1;
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
        int n = s->n;
        for (int e = 0; e <= n; e++) {
            s->nxt[e] = e + 1;
            s->prv[e] = e - 1;
            s->ekey[e] = e ? s->okey[s->opi[e]] : 0;
            if (e && s->kind[e] == 1) s->remaining++;
        }
        s->nxt[n] = -1;
        for (int i = 0; i < nops; i++) s->z[i] = splitmix((uint64_t)i * 0x2545F4914F6CDD1Dull + 17);
        for (int k = 0; k < nkeys; k++) s->part[k] = init_sid;
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

/* -- memo of dead projections ------------------------------------------------------------------ */

static inline uint64_t memo_hash(uint64_t khash, int key, int sid) {
    uint64_t h = khash ^ splitmix(((uint64_t)(uint32_t)key << 32) | (uint32_t)sid);
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

static int memo_contains(Search *s, int key, int sid, const uint64_t *words, uint64_t h) {
    uint64_t id = ((uint64_t)(uint32_t)key << 32) | (uint32_t)sid, tag = h >> 32;
    size_t mask = s->scap - 1, i = slot_home(tag, s->scap);
    for (;;) {
        uint64_t slot = s->slots[i];
        if (!slot) return 0;
        if (slot >> 32 == tag) {
            uint64_t *e = entry_at(s, (uint32_t)slot - 1);
            if (e[0] == h && e[1] == id && memcmp(e + 2, words, sizeof(uint64_t) * s->W) == 0) return 1;
        }
        i = (i + 1) & mask;
    }
}

/* 0 added, 1 over a budget (status set) */
static int memo_add(Search *s, int key, int sid, const uint64_t *words, uint64_t h) {
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
            size_t p = slot_home(slot >> 32, ncap);
            while (ns[p]) p = (p + 1) & (ncap - 1);
            ns[p] = slot;
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
    e[1] = ((uint64_t)(uint32_t)key << 32) | (uint32_t)sid;
    memcpy(e + 2, words, sizeof(uint64_t) * s->W);
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
    uint64_t key = (((uint64_t)(uint32_t)op << 32) | (uint32_t)sid) + 1;
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

/* -- the search ---------------------------------------------------------------------------------- */

static inline void lift(Search *s, int e) {
    int *nxt = s->nxt, *prv = s->prv;
    nxt[prv[e]] = nxt[e];
    if (nxt[e] != -1) prv[nxt[e]] = prv[e];
    int r = s->match[e];
    if (r != -1) {
        nxt[prv[r]] = nxt[r];
        if (nxt[r] != -1) prv[nxt[r]] = prv[r];
    }
}

static inline void unlift(Search *s, int e) {
    int *nxt = s->nxt, *prv = s->prv;
    int r = s->match[e];
    if (r != -1) {
        if (nxt[r] != -1) prv[nxt[r]] = r;
        nxt[prv[r]] = r;
    }
    if (nxt[e] != -1) prv[nxt[e]] = e;
    nxt[prv[e]] = e;
}

static inline int recorded(Search *s, int op) {
    return s->best[op] ? s->best[op]->len : 0;
}

/* called when path[d] was just pushed: floor[d] = min(floor[d - 1], what path[d]'s op has recorded) */
static inline void push_floor(Search *s, int d) {
    int r = recorded(s, s->opi[s->path[d]]);
    s->path_floor[d] = (d && s->path_floor[d - 1] < r) ? s->path_floor[d - 1] : r;
}

/* Give every operation on the path (the first `depth` entries) whose longest recorded prefix is shorter
 * than `depth` this path as its longest; ties keep the earlier path, as the reference search does.
 * Records only grow, so path_floor (computed when each entry was pushed) is a lower bound of the
 * smallest record on the path: when it is at least `depth` nothing can change, which is the common
 * case, and the O(depth) walk is skipped. After a walk the floors are exact again.
 * Snapshots count against the budget (a long search keeps thousands of them, each thousands of ints
 * long): 0, or 1 with the status OVER_BYTES, before any record is changed. */
static int note_longest(Search *s, int depth) {
    if (s->path_floor[depth - 1] >= depth) return 0;
    Snap *snap = NULL;
    for (int d = 0; d < depth; d++) {
        int op = s->opi[s->path[d]];
        Snap *prev = s->best[op];
        if (prev && prev->len >= depth) continue;
        if (!snap) {
            size_t size = snap_size(depth);
            if (!fits(s, size) || !(snap = malloc(size))) { s->status = OVER_BYTES; return 1; }
            s->bytes += size;
            snap->refs = 0;
            snap->len = depth;
            snap->list = NULL;
            for (int j = 0; j < depth; j++) snap->ops[j] = s->opi[s->path[j]];
        }
        snap_release(s, prev);
        snap->refs++;
        s->best[op] = snap;
    }
    for (int d = 0; d < depth; d++) push_floor(s, d);
    return 0;
}

/* Doubling the candidate stack: 0, or 1 with the status OVER_BYTES (over the budget, past int, or no
 * memory to be had: the search cannot go on, and ends "unknown"). */
static int grow_cands(Search *s) {
    size_t more = sizeof(int) * (size_t)s->cand_cap;
    if (s->cand_cap > INT_MAX / 2 || !fits(s, more)) { s->status = OVER_BYTES; return 1; }
    int *nc = realloc(s->cands, 2 * more);
    if (!nc) { s->status = OVER_BYTES; return 1; } /* the old stack is intact */
    s->bytes += more;
    s->cands = nc;
    s->cand_cap *= 2;
    return 0;
}

/* Run until the verdict, a budget, or `slice` (>= 1) more backtracks; returns the status, or -1 with a
 * Python error set (from the step callback), after which run() may be called again. The arguments were
 * checked by Search_init, so every index here is in range: see check_entries and check_ops. */
static int search_run(Search *s, long long slice) {
    const int W = s->W;
    int *nxt = s->nxt, *kind = s->kind, *ekey = s->ekey, *opi = s->opi, *match = s->match;
    long long stop = slice > LLONG_MAX - s->backtracks ? LLONG_MAX : s->backtracks + slice;
    uint64_t *child = s->child; /* W words; not on the C stack, where a wide set could overflow it */
    for (;;) {
        Frame *fr;
        int k, reason;
        if (s->entering) {
            s->entering = 0;
            if (s->remaining == 0) return s->status = VALID;
            int e = nxt[0];
            while (kind[e] == 0) e = nxt[e];
            k = ekey[e];
            fr = &s->frames[s->nframes++];
            fr->key = k;
            fr->cstart = fr->ci = s->cand_top;
            for (int c = nxt[0]; c != e; c = nxt[c]) {
                if (ekey[c] != k) continue;
                if (s->cand_top == s->cand_cap && grow_cands(s)) return s->status;
                s->cands[s->cand_top++] = c;
            }
            fr->cend = s->cand_top;
            fr->succ_off = fr->succ_n = fr->si = 0;
            fr->sid = s->part[k];
            fr->first_ret = e;
            fr->khash = s->khash[k];
            memcpy(s->kstack + (size_t)(s->nframes - 1) * W, s->klin + (size_t)k * W, sizeof(uint64_t) * W);
            /* a push of a key-k operation looked this very projection up a moment ago */
            int dead = k != s->checked_key &&
                       memo_contains(s, k, fr->sid, s->klin + (size_t)k * W, memo_hash(fr->khash, k, fr->sid));
            reason = dead ? k : -1;
            s->checked_key = -1;
        } else {
            fr = &s->frames[s->nframes - 1];
            k = fr->key;
            reason = (s->failed >= 0 && s->failed != k) ? s->failed : -1;
            s->failed = -1;
        }
        if (reason < 0) {
            uint64_t *saved = s->kstack + (size_t)(s->nframes - 1) * W;
            for (;;) {
                if (fr->si < fr->succ_n) {
                    int s2 = fr->succ_off < 0 ? fr->one : s->pool[fr->succ_off + 1 + fr->si];
                    fr->si++;
                    int c = s->cands[fr->ci - 1], op = opi[c], bit = s->olocal[op];
                    uint64_t h = fr->khash ^ s->z[op];
                    memcpy(child, saved, sizeof(uint64_t) * W);
                    child[bit >> 6] |= 1ull << (bit & 63);
                    if (memo_contains(s, k, s2, child, memo_hash(h, k, s2))) continue;
                    lift(s, c);
                    if (match[c] != -1) s->remaining--;
                    s->path[s->npath++] = c;
                    if (s->track_longest) push_floor(s, s->npath - 1);
                    s->part[k] = s2;
                    memcpy(s->klin + (size_t)k * W, child, sizeof(uint64_t) * W);
                    s->khash[k] = h;
                    s->checked_key = k;
                    s->entering = 1;
                    break;
                }
                if (fr->ci == fr->cend) break;
                int op = opi[s->cands[fr->ci]];
                if (s->kv) {
                    int next = kv_step(s->kv, op, fr->sid);
                    if (next == KV_OVER_BUDGET) return s->status = OVER_BYTES;
                    fr->succ_off = -1;
                    fr->one = next;
                    fr->succ_n = next >= 0;
                } else {
                    int off = transition(s, op, fr->sid);
                    if (off == T_ERROR) return -1; /* ci not advanced: a later run() tries this candidate again */
                    if (off == T_OVER) return s->status;
                    fr->succ_off = off;
                    fr->succ_n = s->pool[off];
                }
                fr->ci++;
                s->steps++;
                fr->si = 0;
            }
            if (s->entering) continue;
            reason = k;
            if (memo_add(s, k, fr->sid, saved, memo_hash(fr->khash, k, fr->sid))) return s->status;
        }
        /* this configuration is dead because of key `reason` */
        s->backtracks++;
        int depth = s->npath;
        if (depth > s->deepest_len || (depth == 0 && s->blocked < 0)) {
            for (int d = 0; d < depth; d++) s->deepest[d] = opi[s->path[d]];
            s->deepest_len = depth;
            s->blocked = opi[fr->first_ret];
            s->deepest_sid = fr->sid;
        }
        if (s->track_longest && depth && note_longest(s, depth)) return s->status;
        s->cand_top = fr->cstart;
        s->nframes--;
        if (s->nframes == 0) return s->status = INVALID;
        int c = s->path[--s->npath];
        unlift(s, c);
        if (match[c] != -1) s->remaining++;
        Frame *parent = &s->frames[s->nframes - 1];
        int pk = parent->key;
        s->part[pk] = parent->sid;
        memcpy(s->klin + (size_t)pk * W, s->kstack + (size_t)(s->nframes - 1) * W, sizeof(uint64_t) * W);
        s->khash[pk] = parent->khash;
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

/* a list of ints, each created and checked */
static PyObject *int_list(const int *a, int n, const int *map) {
    PyObject *l = PyList_New(n);
    if (!l) return NULL;
    for (int i = 0; i < n; i++) {
        PyObject *v = PyLong_FromLong(map ? map[a[i]] : a[i]);
        if (!v) { Py_DECREF(l); return NULL; }
        PyList_SET_ITEM(l, i, v);
    }
    return l;
}

static PyObject *Search_witness(Search *s, PyObject *unused) {
    if (check_ready(s) < 0) return NULL;
    return int_list(s->path, s->npath, s->opi); /* the path holds call entries; the witness, operations */
}

/* (deepest prefix, blocked op or None, state id after the prefix) */
static PyObject *Search_deepest(Search *s, PyObject *unused) {
    if (check_ready(s) < 0) return NULL;
    PyObject *l = int_list(s->deepest, s->deepest_len, NULL);
    if (!l) return NULL;
    if (s->blocked < 0) return Py_BuildValue("(NOi)", l, Py_None, s->deepest_sid);
    return Py_BuildValue("(Nii)", l, s->blocked, s->deepest_sid);
}

/* op -> its longest prefix. Operations that share a snapshot share one list (as in the reference
 * search), and the lists share one int object per operation: a long valid search notes a prefix of
 * thousands of operations for each of thousands of operations. */
static PyObject *Search_longest(Search *s, PyObject *unused) {
    if (check_ready(s) < 0) return NULL;
    PyObject *d = PyDict_New(), *ints = PyList_New(s->nops);
    if (!d || !ints) goto fail;
    for (int op = 0; op < s->nops; op++) {
        PyObject *k = PyLong_FromLong(op);
        if (!k) goto fail;
        PyList_SET_ITEM(ints, op, k);
    }
    for (int op = 0; op < s->nops; op++) {
        Snap *p = s->best[op];
        if (!p) continue;
        if (!p->list) {
            if (!(p->list = PyList_New(p->len))) goto fail;
            for (int j = 0; j < p->len; j++) {
                PyObject *v = PyList_GET_ITEM(ints, p->ops[j]);
                Py_INCREF(v);
                PyList_SET_ITEM(p->list, j, v);
            }
        }
        if (PyDict_SetItem(d, PyList_GET_ITEM(ints, op), p->list) < 0) goto fail;
    }
    goto done;
fail:
    Py_CLEAR(d);
done:
    Py_XDECREF(ints);
    for (int op = 0; op < s->nops; op++)
        if (s->best[op]) Py_CLEAR(s->best[op]->list);
    return d;
}

/* (memo entries, steps, backtracks, bytes) */
static PyObject *Search_stats(Search *s, PyObject *unused) {
    if (check_ready(s) < 0) return NULL;
    return Py_BuildValue("(nLLn)", (Py_ssize_t)s->count, s->steps, s->backtracks, (Py_ssize_t)s->bytes);
}

static PyMethodDef Search_methods[] = {
    {"run", (PyCFunction)Search_run, METH_VARARGS, "run(slice) -> status (0 running, 1 valid, 2 invalid, "
                                                   "3 state budget, 4 memory budget)"},
    {"witness", (PyCFunction)Search_witness, METH_NOARGS, "the linearization found (operation indices)"},
    {"deepest", (PyCFunction)Search_deepest, METH_NOARGS, "(deepest prefix, blocked op, state id)"},
    {"longest", (PyCFunction)Search_longest, METH_NOARGS, "op -> longest linearizable prefix with it"},
    {"stats", (PyCFunction)Search_stats, METH_NOARGS, "(memo entries, steps, backtracks, bytes)"},
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
