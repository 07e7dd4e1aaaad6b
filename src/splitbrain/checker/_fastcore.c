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
 * lookup costs one multiply and a compare. Memory is counted in bytes as it is allocated; running past
 * the budget ends the search with a status the caller turns into "unknown", never a crash.
 *
 * For the built-in kv model the transitions are not asked of Python at all: _kvstep.h steps it natively
 * over interned strings (the search is otherwise the same, successor for successor).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
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
    int *path;
    int *path_floor; /* with track_longest: a lower bound of min(longest recorded) over path[0..d] */
    int npath;
    int entering, failed, status;
    int checked_key; /* the key whose projection the last push found not dead, or -1 */
    /* results */
    int *deepest;
    int deepest_len, blocked, deepest_sid;
    int track_longest;
    Snap **best;
    long long steps, backtracks;
    size_t bytes, max_bytes, max_states;
} Search;

static void *counted(Search *s, size_t size) {
    void *p = calloc(1, size ? size : 1);
    if (p) s->bytes += size;
    return p;
}

static int *int_array(Search *s, PyObject *seq, Py_ssize_t expect) {
    PyObject *fast = PySequence_Fast(seq, "expected a sequence of ints");
    if (!fast) return NULL;
    Py_ssize_t len = PySequence_Fast_GET_SIZE(fast);
    if (expect >= 0 && len != expect) {
        Py_DECREF(fast);
        PyErr_SetString(PyExc_ValueError, "array of the wrong length");
        return NULL;
    }
    int *a = counted(s, sizeof(int) * (size_t)(len + 1));
    if (!a) { Py_DECREF(fast); PyErr_NoMemory(); return NULL; }
    for (Py_ssize_t i = 0; i < len; i++) {
        long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, i));
        if (v == -1 && PyErr_Occurred()) { Py_DECREF(fast); free(a); return NULL; }
        a[i] = (int)v;
    }
    Py_DECREF(fast);
    return a;
}

static void Search_dealloc(Search *s) {
    free(s->kind); free(s->opi); free(s->match); free(s->nxt); free(s->prv); free(s->ekey);
    free(s->okey); free(s->olocal); free(s->z); free(s->klin); free(s->khash); free(s->part);
    free(s->tkeys); free(s->tvals); free(s->pool); free(s->slots);
    for (size_t i = 0; i < s->nchunks; i++) free(s->chunks[i]);
    free(s->frames); free(s->cands); free(s->kstack); free(s->path); free(s->path_floor);
    free(s->deepest);
    if (s->best) {
        for (int i = 0; i < s->nops; i++) {
            Snap *p = s->best[i];
            if (p && --p->refs == 0) free(p);
        }
        free(s->best);
    }
    kv_free(s->kv);
    Py_XDECREF(s->step);
    Py_TYPE(s)->tp_free((PyObject *)s);
}

/* Search(kind, opi, match, okey, olocal, nkeys, width, step, init_sid, max_states, max_bytes, track[, kv])
 * kv: None, or (codes, texts, strings) for the native kv step (see _kvstep.h); then `step` is not called */
static int Search_init(Search *s, PyObject *args, PyObject *kw) {
    PyObject *kind, *opi, *match, *okey, *olocal, *step, *kv = Py_None;
    int nkeys, width, init_sid, track;
    unsigned long long max_states, max_bytes;
    if (!PyArg_ParseTuple(args, "OOOOOiiOiKKp|O", &kind, &opi, &match, &okey, &olocal, &nkeys, &width,
                          &step, &init_sid, &max_states, &max_bytes, &track, &kv))
        return -1;
    if (s->kind) { PyErr_SetString(PyExc_RuntimeError, "Search initialised twice"); return -1; }
    Py_ssize_t n1 = PySequence_Size(kind);
    Py_ssize_t nops = PySequence_Size(okey);
    if (n1 < 1 || nops < 0 || nkeys < 1 || width < 1) {
        PyErr_SetString(PyExc_ValueError, "bad search arrays");
        return -1;
    }
    s->n = (int)n1 - 1;
    s->nops = (int)nops;
    s->nkeys = nkeys;
    s->W = width;
    s->max_states = max_states;
    s->max_bytes = max_bytes;
    s->track_longest = track;
    Py_INCREF(step);
    s->step = step;
    if (!(s->kind = int_array(s, kind, n1)) || !(s->opi = int_array(s, opi, n1)) ||
        !(s->match = int_array(s, match, n1)) || !(s->okey = int_array(s, okey, nops)) ||
        !(s->olocal = int_array(s, olocal, nops)))
        return -1;
    int n = s->n, W = width;
    s->nxt = counted(s, sizeof(int) * (n + 1));
    s->prv = counted(s, sizeof(int) * (n + 1));
    s->ekey = counted(s, sizeof(int) * (n + 1));
    s->z = counted(s, sizeof(uint64_t) * (nops + 1));
    s->klin = counted(s, sizeof(uint64_t) * (size_t)nkeys * W);
    s->khash = counted(s, sizeof(uint64_t) * nkeys);
    s->part = counted(s, sizeof(int) * nkeys);
    s->frames = counted(s, sizeof(Frame) * (nops + 2));
    s->cand_cap = 2 * n + 16;
    s->cands = counted(s, sizeof(int) * (size_t)s->cand_cap);
    s->kstack = counted(s, sizeof(uint64_t) * (size_t)(nops + 2) * W);
    s->path = counted(s, sizeof(int) * (nops + 1));
    s->path_floor = counted(s, sizeof(int) * (nops + 1));
    s->deepest = counted(s, sizeof(int) * (nops + 1));
    s->best = counted(s, sizeof(Snap *) * (nops + 1));
    s->tcap = 1024;
    s->tkeys = counted(s, sizeof(uint64_t) * s->tcap);
    s->tvals = counted(s, sizeof(int) * s->tcap);
    s->pool_cap = 4096;
    s->pool = counted(s, sizeof(int) * s->pool_cap);
    s->scap = 1024;
    s->slots = counted(s, sizeof(uint64_t) * s->scap);
    s->stride = 2 + (size_t)W;
    if (!s->nxt || !s->prv || !s->ekey || !s->z || !s->klin || !s->khash || !s->part || !s->frames ||
        !s->cands || !s->kstack || !s->path || !s->path_floor || !s->deepest || !s->best || !s->tkeys ||
        !s->tvals || !s->pool || !s->slots) {
        PyErr_NoMemory();
        return -1;
    }
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
    s->failed = -1;
    s->checked_key = -1;
    s->blocked = -1;
    s->deepest_sid = init_sid;
    if (kv != Py_None) {
        PyObject *codes, *texts, *strings;
        if (!PyArg_ParseTuple(kv, "OOO", &codes, &texts, &strings)) return -1;
        s->kv = kv_new(codes, texts, strings, s->nops, &s->bytes, s->max_bytes);
        if (!s->kv) {
            if (PyErr_Occurred()) return -1;
            s->status = OVER_BYTES; /* the values alone pass the budget */
        }
    }
    return 0;
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
        if (s->bytes + ncap * sizeof(uint64_t) > s->max_bytes) { s->status = OVER_BYTES; return 1; }
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
        if (s->nchunks == MAX_CHUNKS || s->bytes + size > s->max_bytes) { s->status = OVER_BYTES; return 1; }
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

static int grow_transitions(Search *s) {
    size_t ncap = s->tcap * 2;
    uint64_t *nk = calloc(ncap, sizeof(uint64_t));
    int *nv = calloc(ncap, sizeof(int));
    if (!nk || !nv) { free(nk); free(nv); PyErr_NoMemory(); return -1; }
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

/* the offset in the pool of (count, ids...) for op in state sid; -1 with a Python error set */
static int transition(Search *s, int op, int sid) {
    uint64_t key = (((uint64_t)(uint32_t)op << 32) | (uint32_t)sid) + 1;
    size_t mask = s->tcap - 1, i = (size_t)splitmix(key) & mask;
    while (s->tkeys[i]) {
        if (s->tkeys[i] == key) return s->tvals[i];
        i = (i + 1) & mask;
    }
    PyObject *res = PyObject_CallFunction(s->step, "ii", op, sid);
    if (!res) return -1;
    PyObject *fast = PySequence_Fast(res, "step must return a sequence of state ids");
    Py_DECREF(res);
    if (!fast) return -1;
    Py_ssize_t m = PySequence_Fast_GET_SIZE(fast);
    if (s->pool_len + (size_t)m + 1 > s->pool_cap) {
        size_t ncap = s->pool_cap * 2;
        while (ncap < s->pool_len + (size_t)m + 1) ncap *= 2;
        int *np = realloc(s->pool, sizeof(int) * ncap);
        if (!np) { Py_DECREF(fast); PyErr_NoMemory(); return -1; }
        s->bytes += (ncap - s->pool_cap) * sizeof(int);
        s->pool = np;
        s->pool_cap = ncap;
    }
    int off = (int)s->pool_len;
    s->pool[off] = (int)m;
    for (Py_ssize_t j = 0; j < m; j++) {
        long v = PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, j));
        if (v == -1 && PyErr_Occurred()) { Py_DECREF(fast); return -1; }
        s->pool[off + 1 + j] = (int)v;
    }
    Py_DECREF(fast);
    s->pool_len += (size_t)m + 1;
    if ((s->tcount + 1) * 2 > s->tcap) {
        if (grow_transitions(s) < 0) return -1;
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
 * case, and the O(depth) walk is skipped. After a walk the floors are exact again. */
static int note_longest(Search *s, int depth) {
    if (s->path_floor[depth - 1] >= depth) return 0;
    Snap *snap = NULL;
    for (int d = 0; d < depth; d++) {
        int op = s->opi[s->path[d]];
        Snap *prev = s->best[op];
        if (prev && prev->len >= depth) continue;
        if (!snap) {
            snap = malloc(sizeof(Snap) + sizeof(int) * depth);
            if (!snap) { PyErr_NoMemory(); return -1; }
            snap->refs = 0;
            snap->len = depth;
            snap->list = NULL;
            for (int j = 0; j < depth; j++) snap->ops[j] = s->opi[s->path[j]];
        }
        if (prev && --prev->refs == 0) free(prev);
        snap->refs++;
        s->best[op] = snap;
    }
    for (int d = 0; d < depth; d++) push_floor(s, d);
    return 0;
}

/* run until the verdict, a budget, or `slice` more backtracks; returns the status or -1 (error) */
static int search_run(Search *s, long long slice) {
    const int W = s->W;
    int *nxt = s->nxt, *kind = s->kind, *ekey = s->ekey, *opi = s->opi, *match = s->match;
    long long stop = s->backtracks + slice;
    uint64_t child[W > 0 ? W : 1];
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
                if (s->cand_top == s->cand_cap) {
                    int *nc = realloc(s->cands, sizeof(int) * (size_t)s->cand_cap * 2);
                    if (!nc) { PyErr_NoMemory(); return -1; }
                    s->bytes += sizeof(int) * (size_t)s->cand_cap;
                    s->cands = nc;
                    s->cand_cap *= 2;
                }
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
                int op = opi[s->cands[fr->ci++]];
                s->steps++;
                fr->si = 0;
                if (s->kv) {
                    int next = kv_step(s->kv, op, fr->sid);
                    if (next == KV_OVER_BUDGET) return s->status = OVER_BYTES;
                    fr->succ_off = -1;
                    fr->one = next;
                    fr->succ_n = next >= 0;
                    continue;
                }
                int off = transition(s, op, fr->sid);
                if (off < 0) return -1;
                fr->succ_off = off;
                fr->succ_n = s->pool[off];
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
        if (s->track_longest && depth && note_longest(s, depth) < 0) return -1;
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
    if (s->status != RUNNING) return PyLong_FromLong(s->status);
    int st = search_run(s, slice);
    if (st < 0) return NULL;
    return PyLong_FromLong(st);
}

static PyObject *int_list(const int *a, int n) {
    PyObject *l = PyList_New(n);
    if (!l) return NULL;
    for (int i = 0; i < n; i++) PyList_SET_ITEM(l, i, PyLong_FromLong(a[i]));
    return l;
}

static PyObject *Search_witness(Search *s, PyObject *unused) {
    PyObject *l = PyList_New(s->npath);
    if (!l) return NULL;
    for (int i = 0; i < s->npath; i++) PyList_SET_ITEM(l, i, PyLong_FromLong(s->opi[s->path[i]]));
    return l;
}

/* (deepest prefix, blocked op or None, state id after the prefix) */
static PyObject *Search_deepest(Search *s, PyObject *unused) {
    PyObject *l = int_list(s->deepest, s->deepest_len);
    if (!l) return NULL;
    if (s->blocked < 0) return Py_BuildValue("(NOi)", l, Py_None, s->deepest_sid);
    return Py_BuildValue("(Nii)", l, s->blocked, s->deepest_sid);
}

/* op -> its longest prefix. Operations that share a snapshot share one list (as in the reference
 * search), and the lists share one int object per operation: a long valid search notes a prefix of
 * thousands of operations for each of thousands of operations. */
static PyObject *Search_longest(Search *s, PyObject *unused) {
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
    Py_DECREF(ints);
    ints = NULL;
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
