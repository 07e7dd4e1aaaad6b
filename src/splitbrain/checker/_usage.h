/* Crash usage vectors for the compiled core's exact mode (included by _fastcore.c, after splitmix()).
 *
 * In exact mode a key's part of a configuration includes how many calls of each of its crash classes
 * the path has used (splitbrain/checker/pool.py, `Pool.usage`): a sorted run of (class, count) pairs
 * without zeros. The memo keys on it, so vectors are interned: equal vectors get one id (0 is the
 * empty vector) and a memo entry holds 4 bytes of it. A path uses few crashed calls, so vectors are
 * short and few; every byte is counted against the search's budget all the same. */

typedef struct {
    int *data;           /* the pairs of every vector, one vector after another */
    size_t len, cap;     /* ints used and allocated */
    int *off, *npairs;   /* per id */
    uint64_t *hash;      /* per id */
    int count, idcap;
    int *slots;          /* open addressing over ids: id + 1, 0 empty */
    size_t scap;
    int *scratch;        /* room for one vector being built */
    size_t scratch_cap;
    size_t *bytes_used, max_bytes;
} Usages;

static inline int uv_fits(const Usages *u, size_t more) {
    return more <= u->max_bytes && *u->bytes_used <= u->max_bytes - more;
}

static void uv_free(Usages *u) {
    free(u->data); free(u->off); free(u->npairs); free(u->hash); free(u->slots); free(u->scratch);
}

static uint64_t uv_hash(const int *pairs, int n) {
    uint64_t h = 0x51A3B1D4u;
    for (int i = 0; i < 2 * n; i++) h = splitmix(h ^ (uint64_t)(uint32_t)pairs[i]);
    return h;
}

/* The id of the vector in `pairs` (n pairs), made one when new: an id, or -1 over the budget. */
static int uv_intern(Usages *u, const int *pairs, int n) {
    uint64_t h = uv_hash(pairs, n);
    size_t mask = u->scap - 1, i = (size_t)h & mask;
    for (int slot; (slot = u->slots[i]); i = (i + 1) & mask) {
        int id = slot - 1;
        if (u->hash[id] == h && u->npairs[id] == n &&
            (n == 0 || !memcmp(u->data + u->off[id], pairs, sizeof(int) * 2 * (size_t)n)))
            return id;
    }
    if (u->count == INT_MAX - 1) return -1;
    if (u->count == u->idcap) {
        size_t more = (sizeof(int) * 2 + sizeof(uint64_t)) * (size_t)u->idcap;
        if (u->idcap > INT_MAX / 2 || !uv_fits(u, more)) return -1;
        int *no = realloc(u->off, sizeof(int) * 2 * (size_t)u->idcap);
        if (!no) return -1;
        u->off = no;
        int *nn = realloc(u->npairs, sizeof(int) * 2 * (size_t)u->idcap);
        if (!nn) return -1;
        u->npairs = nn;
        uint64_t *nh = realloc(u->hash, sizeof(uint64_t) * 2 * (size_t)u->idcap);
        if (!nh) return -1;
        u->hash = nh;
        *u->bytes_used += more;
        u->idcap *= 2;
    }
    if (u->len + 2 * (size_t)n > u->cap) {
        size_t ncap = u->cap * 2;
        while (ncap < u->len + 2 * (size_t)n) ncap *= 2;
        if (!uv_fits(u, sizeof(int) * (ncap - u->cap))) return -1;
        int *nd = realloc(u->data, sizeof(int) * ncap);
        if (!nd) return -1;
        *u->bytes_used += sizeof(int) * (ncap - u->cap);
        u->data = nd;
        u->cap = ncap;
    }
    if ((size_t)(u->count + 1) * 2 > u->scap) {
        size_t ncap = u->scap * 2;
        if (!uv_fits(u, sizeof(int) * (ncap - u->scap))) return -1;
        int *ns = calloc(ncap, sizeof(int));
        if (!ns) return -1;
        for (size_t j = 0; j < u->scap; j++) {
            int slot = u->slots[j];
            if (!slot) continue;
            size_t p = (size_t)u->hash[slot - 1] & (ncap - 1);
            while (ns[p]) p = (p + 1) & (ncap - 1);
            ns[p] = slot;
        }
        free(u->slots);
        *u->bytes_used += sizeof(int) * (ncap - u->scap);
        u->slots = ns;
        u->scap = ncap;
        mask = ncap - 1;
    }
    int id = u->count++;
    if (n) memcpy(u->data + u->len, pairs, sizeof(int) * 2 * (size_t)n);
    u->off[id] = (int)u->len;
    u->npairs[id] = n;
    u->hash[id] = h;
    u->len += 2 * (size_t)n;
    for (i = (size_t)h & mask; u->slots[i]; i = (i + 1) & mask) {}
    u->slots[i] = id + 1;
    return id;
}

/* 0, or -1 when the first tables pass the budget; `classes` bounds a vector's length */
static int uv_init(Usages *u, int classes, size_t *bytes_used, size_t max_bytes) {
    memset(u, 0, sizeof *u);
    u->bytes_used = bytes_used;
    u->max_bytes = max_bytes;
    u->cap = 64;
    u->idcap = 16;
    u->scap = 64;
    u->scratch_cap = 2 * (size_t)classes + 2;
    size_t need = sizeof(int) * (u->cap + u->scap + u->scratch_cap) + (sizeof(int) * 2 + sizeof(uint64_t)) * 16;
    if (!uv_fits(u, need)) return -1;
    u->data = malloc(sizeof(int) * u->cap);
    u->off = malloc(sizeof(int) * 16);
    u->npairs = malloc(sizeof(int) * 16);
    u->hash = malloc(sizeof(uint64_t) * 16);
    u->slots = calloc(u->scap, sizeof(int));
    u->scratch = malloc(sizeof(int) * u->scratch_cap);
    if (!u->data || !u->off || !u->npairs || !u->hash || !u->slots || !u->scratch) return -1;
    *bytes_used += need;
    return uv_intern(u, NULL, 0) == 0 ? 0 : -1; /* id 0: the empty vector */
}

/* vector `id` with class `cls`'s count changed by `by` (a count never goes below 0: the caller undoes
 * only what it did): the new id, or -1 over the budget */
static int uv_bump(Usages *u, int id, int cls, int by) {
    const int *p = u->data + u->off[id];
    int n = u->npairs[id], m = 0, done = 0;
    for (int i = 0; i < n; i++) {
        if (!done && p[2 * i] >= cls) {
            done = 1;
            if (p[2 * i] == cls) {
                int c = p[2 * i + 1] + by;
                if (c) { u->scratch[2 * m] = cls; u->scratch[2 * m + 1] = c; m++; }
                continue;
            }
            if (by > 0) { u->scratch[2 * m] = cls; u->scratch[2 * m + 1] = by; m++; }
        }
        u->scratch[2 * m] = p[2 * i];
        u->scratch[2 * m + 1] = p[2 * i + 1];
        m++;
    }
    if (!done && by > 0) { u->scratch[2 * m] = cls; u->scratch[2 * m + 1] = by; m++; }
    return uv_intern(u, u->scratch, m);
}
