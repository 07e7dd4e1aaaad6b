/* The kv model's step, run natively by the compiled core (included by _fastcore.c, after splitmix()).
 *
 * One key of splitbrain.models.kv is a string register with get, put and append. The core's search
 * needs model states as small integers, so the states here are interned strings: every string the
 * search meets gets an id (equal strings, one id; id 0 is ""), and a step is a few integer operations:
 *
 *   get v     legal exactly in the state whose string is v, state unchanged;
 *   get ?     (outcome unknown) legal anywhere, state unchanged;
 *   put v     goes to the state of v;
 *   append v  goes to the state of current + v, interned on the spot.
 *
 * That is splitbrain.models.kv.KV.step for one key, with equal strings as equal states — a state id is
 * a bijection with the Python model's canonical states of that key, so the search visits what it
 * visits with the Python model (tests/test_checker_fast.py compares the two, step for step).
 *
 * Representation. The operations' values ("texts") are stored once each. A string state is a node: the
 * state it extends plus one text appended (a put's value is a node extending ""), so a state costs one
 * small record however long its string — a history of many concurrent appends meets hundreds of
 * thousands of strings of a hundred bytes or more, and copying them cost more in page faults than the
 * search did. A string's hash is polynomial, h(s) = sum s[i] * B^(n-1-i) (mod 2^64), so h(s + v) =
 * h(s) * B^|v| + h(v) costs O(1). A hash match is always confirmed: as states are interned,
 * "prefix p + text v" equals "prefix q + text w" with |v| = |w| exactly when p = q and v = w (usually
 * the same text, at the same offset), so the usual confirmation is two integer compares; equal strings
 * split differently are compared byte for byte from the end. Strings are UTF-8 (the concatenation of
 * encodings is the encoding of the concatenation). Every byte allocated is counted against the search's
 * memory budget, and running past it stops the search with "unknown" (a failed allocation too: the
 * search cannot go on, and the caller learns it ran out of memory, not that it crashed).
 *
 * Every index read from Python (codes, texts, strings) is checked in kv_new; after that the state ids
 * kv_step meets are its own (0, or what kv_intern returned), so the step indexes without checks.
 */

enum { KV_GET_ANY = 0, KV_GET = 1, KV_PUT = 2, KV_APPEND = 3, KV_ILLEGAL = 4 };
#define KV_BASE 0x100000001B3ull /* an odd multiplier (FNV's prime) */
#define KV_OVER_BUDGET (-2)
#define KV_UNKNOWN (-1)

typedef struct {
    uint64_t hash;
    uint32_t len;              /* of the whole string */
    uint32_t prefix;           /* the state this one extends (0 for a put's value) */
    uint32_t text_off, text_len; /* the text appended to it, in the text arena */
} KVNode;

typedef struct {
    uint64_t hash, pow; /* h(text) and B^len(text) */
    uint32_t off, len;
    int state;          /* the id of the state whose string is this text, once known; else KV_UNKNOWN */
} KVText;

typedef struct {
    char *bytes;        /* the texts, each once */
    KVText *texts;
    int ntexts;
    int *code, *text;   /* per operation: what it does, and its text */
    KVNode *nodes;      /* the states; node 0 is "" */
    size_t count, cap;
    uint64_t *slots;    /* open addressing: the string's tag (kv_tag), then its id + 1; 0 empty */
    size_t scap;
    size_t *bytes_used, max_bytes; /* the search's byte count and budget, shared */
} KVStep;

static void kv_free(KVStep *kv) {
    if (!kv) return;
    free(kv->bytes); free(kv->texts); free(kv->code); free(kv->text); free(kv->nodes); free(kv->slots);
    free(kv);
}

/* 32 well-mixed bits of a string's hash and length: where the table places it, and kept in its slot
 * so that the table grows, and most probes miss, without reading the nodes */
static inline uint64_t kv_tag(uint64_t h, uint32_t len) {
    return splitmix(h ^ ((uint64_t)len << 40)) >> 32;
}

/* Is string(t) == string(p) + text? (Their hashes and lengths agree.) */
static int kv_same(const KVStep *kv, uint32_t t, uint32_t p, const KVText *text) {
    const KVNode *a = &kv->nodes[t];
    if (a->text_len == text->len) /* the same split: equal exactly when the prefixes (interned) and texts are */
        return a->prefix == p && (a->text_off == text->off || memcmp(kv->bytes + a->text_off, kv->bytes + text->off,
                                                                    text->len) == 0);
    /* split differently: compare from the end; the bytes left on each side are string(next) + seg[:rem] */
    const char *xseg = kv->bytes + a->text_off, *yseg = kv->bytes + text->off;
    uint32_t xrem = a->text_len, yrem = text->len, xnext = a->prefix, ynext = p;
    for (;;) {
        if (xrem == 0 && yrem == 0) return xnext == ynext; /* two interned strings of one length */
        if (xrem == 0) {
            const KVNode *n = &kv->nodes[xnext];
            xseg = kv->bytes + n->text_off; xrem = n->text_len; xnext = n->prefix;
            continue;
        }
        if (yrem == 0) {
            const KVNode *n = &kv->nodes[ynext];
            yseg = kv->bytes + n->text_off; yrem = n->text_len; ynext = n->prefix;
            continue;
        }
        uint32_t k = xrem < yrem ? xrem : yrem;
        if (memcmp(xseg + xrem - k, yseg + yrem - k, k) != 0) return 0;
        xrem -= k;
        yrem -= k;
    }
}

/* 0, or KV_OVER_BUDGET when one more node would pass the budget or cannot be had */
static int kv_reserve(KVStep *kv) {
    if (kv->count + 1 > kv->cap) {
        size_t ncap = kv->cap * 2, grow = (ncap - kv->cap) * sizeof(KVNode);
        if (*kv->bytes_used + grow > kv->max_bytes) return KV_OVER_BUDGET;
        KVNode *nn = realloc(kv->nodes, sizeof(KVNode) * ncap);
        if (!nn) return KV_OVER_BUDGET;
        kv->nodes = nn;
        *kv->bytes_used += grow;
        kv->cap = ncap;
    }
    if ((kv->count + 1) * 2 > kv->scap) {
        size_t ncap = kv->scap * 2, mask = ncap - 1;
        if (*kv->bytes_used + (ncap - kv->scap) * sizeof(uint64_t) > kv->max_bytes) return KV_OVER_BUDGET;
        uint64_t *ns = calloc(ncap, sizeof(uint64_t));
        if (!ns) return KV_OVER_BUDGET;
        for (size_t j = 0; j < kv->scap; j++) {
            uint64_t slot = kv->slots[j];
            if (!slot) continue;
            size_t i = (size_t)(slot >> 32) & mask;
            while (ns[i]) i = (i + 1) & mask;
            ns[i] = slot;
        }
        free(kv->slots);
        *kv->bytes_used += (ncap - kv->scap) * sizeof(uint64_t);
        kv->slots = ns;
        kv->scap = ncap;
    }
    return 0;
}

/* The id of string(p) + text, made a new state when no equal string is one yet; or KV_OVER_BUDGET. */
static int kv_intern(KVStep *kv, uint32_t p, const KVText *text) {
    if (text->len == 0) return (int)p;
    const KVNode *pn = &kv->nodes[p];
    if ((uint64_t)pn->len + text->len > 0xFFFFFFF0u) return KV_OVER_BUDGET;
    uint32_t len = pn->len + text->len;
    uint64_t h = pn->hash * text->pow + text->hash, tag = kv_tag(h, len);
    size_t mask = kv->scap - 1, i = (size_t)tag & mask;
    for (uint64_t slot; (slot = kv->slots[i]); i = (i + 1) & mask) {
        uint32_t t = (uint32_t)slot - 1;
        if (slot >> 32 == tag && kv->nodes[t].hash == h && kv->nodes[t].len == len && kv_same(kv, t, p, text))
            return (int)t;
    }
    if (kv->count >= 0x7FFFFFF0u || kv_reserve(kv) < 0) return KV_OVER_BUDGET;
    size_t id = kv->count++;
    kv->nodes[id] = (KVNode){.hash = h, .len = len, .prefix = p, .text_off = text->off, .text_len = text->len};
    mask = kv->scap - 1;
    i = (size_t)tag & mask;
    while (kv->slots[i]) i = (i + 1) & mask;
    kv->slots[i] = tag << 32 | (uint64_t)(id + 1);
    return (int)id;
}

/* The successor of state `sid` under operation `op`: an id, -1 when illegal, or KV_OVER_BUDGET. */
static inline int kv_step(KVStep *kv, int op, int sid) {
    KVText *text = &kv->texts[kv->text[op]];
    switch (kv->code[op]) {
    case KV_GET_ANY:
        return sid;
    case KV_GET:
        if (text->state != KV_UNKNOWN) return sid == text->state ? sid : -1; /* one id per string */
        {
            const KVNode *n = &kv->nodes[sid];
            if (n->len != text->len || n->hash != text->hash || !kv_same(kv, (uint32_t)sid, 0, text)) return -1;
        }
        text->state = sid;
        return sid;
    case KV_APPEND:
        if (sid != 0) return kv_intern(kv, (uint32_t)sid, text);
        /* fall through - appending to "" is putting */
    case KV_PUT:
        if (text->state == KV_UNKNOWN) {
            int id = kv_intern(kv, 0, text);
            if (id < 0) return id;
            text->state = id;
        }
        return text->state;
    default:
        return -1;
    }
}

/* Is `seq` (named `what`) a list or tuple of `len` entries? Else TypeError/ValueError. */
static int kv_sequence(PyObject *seq, const char *what, Py_ssize_t len) {
    if (!PyList_Check(seq) && !PyTuple_Check(seq)) {
        PyErr_Format(PyExc_TypeError, "kv %s must be a list, not %.100s", what, Py_TYPE(seq)->tp_name);
        return -1;
    }
    if (len >= 0 && PySequence_Fast_GET_SIZE(seq) != len) {
        PyErr_Format(PyExc_ValueError, "kv %s has %zd entries, expected one per operation (%zd)", what,
                     PySequence_Fast_GET_SIZE(seq), len);
        return -1;
    }
    return 0;
}

/* Item i of `seq` (named `what`), an int in [0, hi); else TypeError/OverflowError/ValueError. Only exact
 * ints (and their subclasses) are read, by value: no Python code runs, so the list cannot change while
 * it is read. */
static int kv_index(PyObject *seq, const char *what, Py_ssize_t i, long hi, long *out) {
    PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
    if (!PyLong_Check(item)) {
        PyErr_Format(PyExc_TypeError, "kv %s[%zd] must be an int, not %.100s", what, i, Py_TYPE(item)->tp_name);
        return -1;
    }
    int overflow;
    long v = PyLong_AsLongAndOverflow(item, &overflow);
    if (overflow) {
        PyErr_Format(PyExc_OverflowError, "kv %s[%zd] is too large", what, i);
        return -1;
    }
    if (v < 0 || v >= hi) {
        PyErr_Format(PyExc_ValueError, "kv %s[%zd] = %ld is out of range (0 to %ld)", what, i, v, hi - 1);
        return -1;
    }
    *out = v;
    return 0;
}

/* Build from codes (a KV_* per operation), texts (an index into `strings` per operation) and strings
 * (distinct str values). NULL with a Python error set on bad input or when memory cannot be had; NULL
 * with no error set when the tables pass the memory budget. Every argument is checked before anything
 * is allocated, so bad input raises whatever the budget. */
static KVStep *kv_new(PyObject *codes, PyObject *texts, PyObject *strings, int nops, size_t *bytes_used,
                      size_t max_bytes) {
    if (kv_sequence(codes, "codes", nops) < 0 || kv_sequence(texts, "texts", nops) < 0 ||
        kv_sequence(strings, "strings", -1) < 0)
        return NULL;
    Py_ssize_t nstrings = PySequence_Fast_GET_SIZE(strings);
    if (nstrings > INT_MAX - 1) {
        PyErr_SetString(PyExc_OverflowError, "too many kv strings for the compiled core");
        return NULL;
    }
    long v;
    for (Py_ssize_t i = 0; i < nops; i++)
        if (kv_index(codes, "codes", i, KV_ILLEGAL + 1, &v) < 0 || kv_index(texts, "texts", i, (long)nstrings, &v) < 0)
            return NULL;
    /* a state's length is a uint32_t: texts longer than that together are past any budget */
    size_t total = 0;
    int too_long = 0;
    for (Py_ssize_t j = 0; j < nstrings; j++) {
        PyObject *str = PySequence_Fast_GET_ITEM(strings, j);
        Py_ssize_t len;
        if (!PyUnicode_Check(str)) {
            PyErr_Format(PyExc_TypeError, "kv strings[%zd] must be a str, not %.100s", j, Py_TYPE(str)->tp_name);
            return NULL;
        }
        if (!PyUnicode_AsUTF8AndSize(str, &len)) return NULL; /* a lone surrogate has no UTF-8 */
        if ((size_t)len > 0xFFFFFFF0u - total) too_long = 1;
        else total += (size_t)len;
    }
    size_t cap = 256, scap = 512;
    size_t need = sizeof(KVStep) + total + 1 + sizeof(KVText) * ((size_t)nstrings + 1) +
                  sizeof(int) * 2 * ((size_t)nops + 1) + sizeof(KVNode) * cap + sizeof(uint64_t) * scap;
    if (too_long || need > max_bytes || *bytes_used > max_bytes - need) return NULL; /* over budget */
    KVStep *kv = calloc(1, sizeof(KVStep));
    if (!kv) { PyErr_NoMemory(); return NULL; }
    kv->bytes_used = bytes_used;
    kv->max_bytes = max_bytes;
    kv->ntexts = (int)nstrings;
    kv->cap = cap;
    kv->scap = scap;
    kv->bytes = malloc(total + 1);
    kv->texts = malloc(sizeof(KVText) * ((size_t)nstrings + 1));
    kv->code = malloc(sizeof(int) * ((size_t)nops + 1));
    kv->text = malloc(sizeof(int) * ((size_t)nops + 1));
    kv->nodes = malloc(sizeof(KVNode) * cap);
    kv->slots = calloc(scap, sizeof(uint64_t));
    if (!kv->bytes || !kv->texts || !kv->code || !kv->text || !kv->nodes || !kv->slots) {
        kv_free(kv);
        PyErr_NoMemory();
        return NULL;
    }
    *bytes_used += need;
    /* Nothing since the checks above ran Python code (only exact ints and strs were read, and only
     * allocations happened since), so the sequences and their items are as they were checked. */
    size_t off = 0;
    for (Py_ssize_t j = 0; j < nstrings; j++) {
        Py_ssize_t len;
        const char *b = PyUnicode_AsUTF8AndSize(PySequence_Fast_GET_ITEM(strings, j), &len); /* cached */
        uint64_t h = 0, pow = 1;
        for (Py_ssize_t k = 0; k < len; k++) {
            h = h * KV_BASE + (unsigned char)b[k];
            pow *= KV_BASE;
        }
        memcpy(kv->bytes + off, b, (size_t)len);
        kv->texts[j] = (KVText){.hash = h, .pow = pow, .off = (uint32_t)off, .len = (uint32_t)len,
                                .state = len ? KV_UNKNOWN : 0};
        off += (size_t)len;
    }
    for (Py_ssize_t i = 0; i < nops; i++) {
        kv->code[i] = (int)PyLong_AsLong(PySequence_Fast_GET_ITEM(codes, i));
        kv->text[i] = (int)PyLong_AsLong(PySequence_Fast_GET_ITEM(texts, i));
    }
    /* state 0: "" */
    kv->count = 1;
    kv->nodes[0] = (KVNode){.hash = 0, .len = 0, .prefix = 0, .text_off = 0, .text_len = 0};
    kv->slots[kv_tag(0, 0) & (kv->scap - 1)] = kv_tag(0, 0) << 32 | 1;
    return kv;
}
