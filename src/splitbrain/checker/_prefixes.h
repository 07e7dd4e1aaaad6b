/* The prefixes a search reaches, for the compiled core (included by _fastcore.c): the persistent path,
 * the deepest prefix, and per operation the longest prefix that holds it. The same bookkeeping as
 * splitbrain/checker/prefixes.py, which explains it:
 *
 *   - the path is a tree of nodes (op, parent, depth), shared by every prefix noted through it, with
 *     reference counts: a node lives while the path, a child, a mark, a record or the deepest prefix
 *     holds it;
 *   - a dead end marks the top position (the best dead end since that position was pushed); a pop
 *     hands its mark to its operation's record and down to the position below: O(1) each.
 *
 * Every byte is counted against the search's budget; running past it makes px_push fail (the search
 * ends "unknown"). The arrays are indexed only by what this file hands out. */

typedef struct {
    int op, parent, depth, refs; /* parent: -1 at the root; a free node keeps the next free one there */
} PxNode;

typedef struct {
    PxNode *nodes;
    int cap, free_list;
    int leaf, depth;   /* the path: its last node (-1 when empty) and its length */
    int track;         /* keep marks and records */
    int *marks;        /* per path position: best dead end since pushed, or -1 */
    int marks_cap;     /* a relaxed search may reuse crashed calls: its path can outgrow the operations */
    int *best;         /* per operation: its record, or -1 */
    int nops;
    size_t *bytes_used, max_bytes;
} Prefixes;

static void px_decref(Prefixes *px, int id) {
    while (id >= 0 && --px->nodes[id].refs == 0) {
        int parent = px->nodes[id].parent;
        px->nodes[id].parent = px->free_list;
        px->free_list = id;
        id = parent; /* the freed node held its parent */
    }
}

static inline void px_incref(Prefixes *px, int id) {
    if (id >= 0) px->nodes[id].refs++;
}

/* 0, or -1 when the tables pass the budget (or memory cannot be had) */
static int px_init(Prefixes *px, int nops, int track, size_t *bytes_used, size_t max_bytes) {
    memset(px, 0, sizeof *px);
    px->bytes_used = bytes_used;
    px->max_bytes = max_bytes;
    px->nops = nops;
    px->track = track;
    px->leaf = -1;
    px->free_list = -1;
    size_t need = sizeof(int) * 2 * ((size_t)nops + 2) + sizeof(PxNode) * 64;
    if (need > max_bytes || *bytes_used > max_bytes - need) return -1;
    px->marks = malloc(sizeof(int) * ((size_t)nops + 2));
    px->best = malloc(sizeof(int) * ((size_t)nops + 2));
    px->nodes = malloc(sizeof(PxNode) * 64);
    if (!px->marks || !px->best || !px->nodes) return -1;
    *bytes_used += need;
    px->marks_cap = nops + 2;
    px->cap = 64;
    for (int i = 0; i < 64; i++) {
        px->nodes[i].parent = i + 1 < 64 ? i + 1 : -1;
        px->nodes[i].refs = 0;
    }
    px->free_list = 0;
    for (int i = 0; i < nops + 2; i++) px->marks[i] = px->best[i] = -1;
    return 0;
}

static void px_free(Prefixes *px) {
    free(px->nodes);
    free(px->marks);
    free(px->best);
}

/* Push `op` on the path: 0, or -1 over the budget. */
static int px_push(Prefixes *px, int op) {
    if (px->track && px->depth >= px->marks_cap) {
        size_t more = sizeof(int) * (size_t)px->marks_cap;
        if (px->marks_cap > INT_MAX / 2 || more > px->max_bytes || *px->bytes_used > px->max_bytes - more) return -1;
        int *grown = realloc(px->marks, 2 * more);
        if (!grown) return -1;
        *px->bytes_used += more;
        px->marks = grown;
        px->marks_cap *= 2;
    }
    if (px->free_list < 0) {
        size_t more = sizeof(PxNode) * (size_t)px->cap;
        if (px->cap > INT_MAX / 2 || more > px->max_bytes || *px->bytes_used > px->max_bytes - more) return -1;
        PxNode *grown = realloc(px->nodes, 2 * more);
        if (!grown) return -1;
        *px->bytes_used += more;
        px->nodes = grown;
        for (int i = px->cap; i < 2 * px->cap; i++) {
            px->nodes[i].parent = i + 1 < 2 * px->cap ? i + 1 : -1;
            px->nodes[i].refs = 0;
        }
        px->free_list = px->cap;
        px->cap *= 2;
    }
    int id = px->free_list;
    px->free_list = px->nodes[id].parent;
    /* the path's reference to the old leaf becomes the new node's reference to its parent */
    px->nodes[id] = (PxNode){.op = op, .parent = px->leaf, .depth = px->depth + 1, .refs = 1};
    px->leaf = id;
    if (px->track) px->marks[px->depth] = -1;
    px->depth++;
    return 0;
}

static void px_pop(Prefixes *px) {
    int id = px->leaf, op = px->nodes[id].op, parent = px->nodes[id].parent;
    px->depth--;
    if (px->track) {
        int mark = px->marks[px->depth];
        if (mark >= 0) {
            int prev = px->best[op];
            if (prev < 0 || px->nodes[mark].depth > px->nodes[prev].depth) {
                px_incref(px, mark);
                px->best[op] = mark;
                px_decref(px, prev);
            }
            if (px->depth) {
                int below = px->marks[px->depth - 1];
                if (below < 0 || px->nodes[mark].depth > px->nodes[below].depth) {
                    px_incref(px, mark);
                    px->marks[px->depth - 1] = mark;
                    px_decref(px, below);
                }
            }
            px_decref(px, mark);
        }
    }
    px_incref(px, parent); /* the path now holds the parent */
    px->leaf = parent;
    px_decref(px, id);
}

/* a dead end: the current path is a linearizable prefix for every operation on it */
static void px_dead_end(Prefixes *px) {
    if (!px->track || !px->depth) return;
    int top = px->marks[px->depth - 1];
    if (top < 0 || px->depth > px->nodes[top].depth) {
        px_incref(px, px->leaf);
        px->marks[px->depth - 1] = px->leaf;
        px_decref(px, top);
    }
}

/* The operations of the prefix ending at node `id`, as a new list (`ints` holds an int per operation). */
static PyObject *px_list(const Prefixes *px, int id, PyObject *ints) {
    int len = id >= 0 ? px->nodes[id].depth : 0;
    PyObject *l = PyList_New(len);
    if (!l) return NULL;
    for (int j = len - 1; j >= 0; j--, id = px->nodes[id].parent) {
        PyObject *v = ints ? PyList_GET_ITEM(ints, px->nodes[id].op) : PyLong_FromLong(px->nodes[id].op);
        if (!v) { Py_DECREF(l); return NULL; }
        if (ints) Py_INCREF(v);
        PyList_SET_ITEM(l, j, v);
    }
    return l;
}

typedef struct { int depth, op, node; } PxPick;

/* deepest first; ties: the smaller operation first */
static int px_pick_order(const void *a, const void *b) {
    const PxPick *x = a, *y = b;
    if (x->depth != y->depth) return x->depth > y->depth ? -1 : 1;
    return (x->op > y->op) - (x->op < y->op);
}

/* op -> its longest prefix, for the operations whose record fits: the distinct records, deepest first
 * (ties: the smallest operation recorded with it), until `cap` operation ids are listed in all — the rule
 * of prefixes.materialize. Operations sharing a record share one list, whose ints are shared too. */
static PyObject *px_longest(const Prefixes *px, long long cap) {
    int nops = px->nops, npick = 0;
    PyObject *d = PyDict_New(), *ints = PyList_New(nops), *lists = NULL;
    int *slot = NULL; /* node -> its index in picks, or -1 */
    PxPick *picks = NULL;
    if (!d || !ints) goto fail;
    for (int op = 0; op < nops; op++) {
        PyObject *k = PyLong_FromLong(op);
        if (!k) goto fail;
        PyList_SET_ITEM(ints, op, k);
    }
    slot = malloc(sizeof(int) * ((size_t)px->cap + 1));
    picks = malloc(sizeof(PxPick) * ((size_t)nops + 1));
    if (!slot || !picks) { PyErr_NoMemory(); goto fail; }
    for (int i = 0; i < px->cap; i++) slot[i] = -1;
    for (int op = 0; op < nops; op++) {
        int node = px->best[op];
        if (node < 0) continue;
        if (slot[node] < 0) {
            slot[node] = npick;
            picks[npick++] = (PxPick){.depth = px->nodes[node].depth, .op = op, .node = node};
        }
    }
    qsort(picks, (size_t)npick, sizeof(PxPick), px_pick_order);
    if (!(lists = PyList_New(npick))) goto fail;
    long long total = 0;
    for (int i = 0; i < npick; i++) {
        slot[picks[i].node] = i;
        int depth = px->nodes[picks[i].node].depth;
        PyObject *l = Py_None;
        if (total >= 0 && total + depth <= cap) {
            total += depth;
            if (!(l = px_list(px, picks[i].node, ints))) goto fail;
        } else {
            total = -1; /* the first that does not fit ends the listing */
            Py_INCREF(l);
        }
        PyList_SET_ITEM(lists, i, l);
    }
    for (int op = 0; op < nops; op++) {
        int node = px->best[op];
        if (node < 0) continue;
        PyObject *l = PyList_GET_ITEM(lists, slot[node]);
        if (l != Py_None && PyDict_SetItem(d, PyList_GET_ITEM(ints, op), l) < 0) goto fail;
    }
    goto done;
fail:
    Py_CLEAR(d);
done:
    Py_XDECREF(ints);
    Py_XDECREF(lists);
    free(slot);
    free(picks);
    return d;
}
