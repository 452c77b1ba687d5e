/*
 * hak_arena_check: the whole-structure validator, usable in release builds (tests call it after every step of
 * their random runs). It re-derives every redundant fact from the primary ones and compares: slice maps
 * against page headers, page counts against free lists, the registry against the chunks, byte counters against
 * the bitmaps, bins against page states. A page's free list is walked at most as many steps as the page has
 * handed out blocks, so a cycle is found as a count mismatch rather than a hang. The first failure is recorded
 * with its name (*f), for hak_arena_check to report to the error handler once the arena's lock is released (a
 * handler may use other arenas).
 */
#include "arena/internal.h"

/* Whether a link read from a header may be followed: the registry (which reads only its own tables, whatever the
 * address) must map it to a chunk of this arena of that kind, so that an overwritten link is reported, not
 * dereferenced. */
static bool is_slab_of(const hak_arena_t *a, const hak_superslab_t *ss)
{
    return _hak_registry_find(ss) == &ss->chunk && ss->chunk.kind == HAK_CHUNK_SUPERSLAB && ss->chunk.arena == a;
}

static bool is_huge_of(const hak_arena_t *a, const hak_huge_t *h)
{
    return _hak_registry_find(h) == &h->chunk && h->chunk.kind == HAK_CHUNK_HUGE && h->chunk.arena == a;
}

/* The page header of one of this arena's SuperSlabs, at the exact place of one. */
static bool is_page_of(const hak_arena_t *a, const hak_page_t *page)
{
    hak_superslab_t *ss = (hak_superslab_t *)_hak_registry_find(page);
    if (!ss || (uintptr_t)page < (uintptr_t)ss->pages || !is_slab_of(a, ss))
        return false;
    size_t off = (uintptr_t)page - (uintptr_t)ss->pages;
    return off % sizeof(hak_page_t) == 0 && off / sizeof(hak_page_t) < ss->nslices - HAK_HDR_SLICES;
}

int _hak_check_page(hak_arena_t *a, hak_superslab_t *ss, hak_page_t *page, hak_check_fail_t *f)
{
    const void *obj = page;
    uint8_t    *start = (uint8_t *)ss + ((size_t)page->slice << HAK_SLICE_SHIFT);
    if (page->start != start || page->nslices == 0 || page->slice + page->nslices > ss->nslices)
        HAK_CHECK_FAIL("page outside its SuperSlab");
    size_t span = (size_t)page->nslices << HAK_SLICE_SHIFT;
    if (page->bsize == 0 || page->recip != (page->kind == HAK_PAGE_LARGE ? 1 : hak_recip(page->bsize)))
        HAK_CHECK_FAIL("page block size");
    if (page->kind == HAK_PAGE_LARGE) {
        if (page->bsize != span || page->used != 1 || page->free || hak_bump(page) != start + span ||
            page->end_off != span)
            HAK_CHECK_FAIL("large page state");
        return 0;
    }
    if (page->kind != HAK_PAGE_SMALL || page->cls >= HAK_NUM_CLASSES || page->bsize != _hak_class_size[page->cls])
        HAK_CHECK_FAIL("small page class");
    size_t capacity = span / page->bsize;
    if (page->end_off != capacity * page->bsize || hak_bump(page) < start || hak_bump(page) > start + page->end_off ||
        (size_t)(hak_bump(page) - start) % page->bsize)
        HAK_CHECK_FAIL("small page bounds");
    size_t handed = (size_t)(hak_bump(page) - start) / page->bsize, nfree = 0;
    for (hak_block_t *b = page->free; b; b = hak_next(a, b)) {
        obj = b;
        if (++nfree > handed)
            HAK_CHECK_FAIL("free list longer than the blocks handed out (cycle?)");
        if ((uint8_t *)b < start || (uint8_t *)b >= hak_bump(page) || (size_t)((uint8_t *)b - start) % page->bsize)
            HAK_CHECK_FAIL("free list link outside its page or misaligned");
        if (!hak_is_marked(a, b))
            HAK_CHECK_FAIL("free block lost its free marker (written after free?)");
    }
    obj = page;
    if (nfree + page->used != handed)
        HAK_CHECK_FAIL("live + free blocks differ from blocks handed out");
    return 0;
}

static int check_slab(hak_arena_t *a, hak_superslab_t *ss, size_t *committed, size_t *dirty, size_t *in_bins,
                      hak_check_fail_t *f)
{
    const void *obj = ss;
    if (ss->chunk.magic != HAK_CHUNK_MAGIC || ss->chunk.kind != HAK_CHUNK_SUPERSLAB || ss->chunk.arena != a ||
        ss->chunk.size > a->slab_size || (ss->chunk.size != a->slab_size && !a->pool && !HAK_CFG_FREESTANDING) ||
        ss->nslices > (ss->chunk.size >> HAK_SLICE_SHIFT) ||
        ss->nslices + HAK_CFG_GUARD_PAGES < (ss->chunk.size >> HAK_SLICE_SHIFT) || ss->nslices <= HAK_HDR_SLICES ||
        ss->chunk.fast != (a->sync ? NULL : a))
        HAK_CHECK_FAIL("SuperSlab header");
    for (size_t off = 0; off < ss->chunk.size; off += HAK_GRANULE)
        if (_hak_registry_find((uint8_t *)ss + off) != &ss->chunk)
            HAK_CHECK_FAIL("registry does not map the SuperSlab");
    for (uint32_t i = 0; i < HAK_HDR_SLICES; i++)
        if (!hak_map_bit(ss->commit_map, i) || hak_map_bit(ss->free_map, i) ||
            ss->slice_page[i] != &_hak_free_slice)
            HAK_CHECK_FAIL("header slice state");
    uint32_t nfree = 0, run = 0, longest = 0;
    for (uint32_t i = 0; i < ss->nslices; i++) {
        bool free = hak_map_bit(ss->free_map, i), comm = hak_map_bit(ss->commit_map, i);
        *committed += comm ? HAK_SLICE : 0;
        run = free ? run + 1 : 0;
        longest = run > longest ? run : longest;
        if (free) {
            nfree++;
            *dirty += comm ? HAK_SLICE : 0;
            if (ss->slice_page[i] != &_hak_free_slice)
                HAK_CHECK_FAIL("free slice mapped to a page");
            continue;
        }
        if (i < HAK_HDR_SLICES)
            continue;
        hak_page_t *page = ss->slice_page[i];
        if (!comm)
            HAK_CHECK_FAIL("slice of a page not committed");
        if (page < ss->pages || page >= ss->pages + (ss->nslices - HAK_HDR_SLICES) || i < page->slice ||
            i >= (uint32_t)page->slice + page->nslices || page != &ss->pages[page->slice - HAK_HDR_SLICES])
            HAK_CHECK_FAIL("slice mapped to a page that does not cover it");
        if (page->slice == i) {
            int rc = _hak_check_page(a, ss, page, f);
            if (rc)
                return rc;
            *in_bins += page->in_bin;
        }
    }
    if (nfree != ss->nfree || longest != ss->longest)
        HAK_CHECK_FAIL("free slice count or longest free run");
    for (uint32_t i = ss->nslices; i < HAK_MAP_WORDS * 64; i++)
        if (hak_map_bit(ss->free_map, i))
            HAK_CHECK_FAIL("free slice past the end");
    for (unsigned w = 0; w < HAK_MAP_WORDS; w++)
        if (ss->aged_map[w] & ~(ss->free_map[w] & ss->commit_map[w]))
            HAK_CHECK_FAIL("an aged slice that is not free and committed");
    return 0;
}

int _hak_check_locked(hak_arena_t *a, hak_check_fail_t *f)
{
    const void *obj = a;
    size_t      committed = 0, dirty = 0, in_bins = 0, nslabs = 0, nhuge = 0, reserved = 0;
    size_t with_runs = 0, in_buckets = 0;
    if (a->slabs && !is_slab_of(a, a->slabs))
        HAK_CHECK_FAIL("SuperSlab list");
    for (hak_superslab_t *ss = a->slabs; ss; ss = ss->next) {
        obj = ss;
        if (++nslabs > a->nslabs || (ss->next && (!is_slab_of(a, ss->next) || ss->next->prev != ss)))
            HAK_CHECK_FAIL("SuperSlab list");
        with_runs += ss->longest != 0;
        reserved += ss->chunk.size;
        int rc = check_slab(a, ss, &committed, &dirty, &in_bins, f);
        if (rc)
            return rc;
    }
    for (hak_huge_t *h = a->huge; h; h = h->next) {
        obj = h;
        if (!is_huge_of(a, h)) /* (its kind and arena: checked here) */
            HAK_CHECK_FAIL("huge block list");
        if (++nhuge > a->nhuge || (h->next && (!is_huge_of(a, h->next) || h->next->prev != h)) ||
            h->chunk.magic != HAK_CHUNK_MAGIC || h->chunk.fast || _hak_registry_find(h->block) != &h->chunk ||
            hak_huge_used(h) > h->chunk.size)
            HAK_CHECK_FAIL("huge block");
        committed += _hak_huge_committed(a, h);
        reserved += h->chunk.size;
    }
    for (int i = 0; i < HAK_HUGE_SPARES; i++) { /* kept for reuse: committed, dirty, in no list or registry */
        hak_huge_t *h = a->huge_spare[i];
        if (!h)
            continue;
        obj = h;
        if (a->policy != HAK_POLICY_FAST || hak_huge_used(h) > HAK_HUGE_SPARE_MAX || _hak_registry_find(h))
            HAK_CHECK_FAIL("spare huge chunk");
        committed += _hak_huge_committed(a, h);
        reserved += h->chunk.size;
        dirty += hak_huge_used(h);
    }
    obj = a;
    if (nslabs != a->nslabs || nhuge != a->nhuge)
        HAK_CHECK_FAIL("chunk counts");
    for (unsigned b = 0; b < HAK_RUN_BUCKETS; b++) { /* searches find every SuperSlab with free slices */
        if (!a->runs[b] != !((a->runs_map >> b) & 1))
            HAK_CHECK_FAIL("free-run bucket map");
        for (hak_superslab_t *ss = a->runs[b], *prev = NULL; ss; prev = ss, ss = ss->rnext) {
            obj = ss;
            if (++in_buckets > with_runs || !is_slab_of(a, ss) || ss->rprev != prev || !ss->longest ||
                hak_run_bucket(ss->longest) != b)
                HAK_CHECK_FAIL("free-run bucket list");
        }
    }
    obj = a;
    if (in_buckets != with_runs)
        HAK_CHECK_FAIL("SuperSlabs with free slices missing from the free-run buckets");
    if (committed != a->committed || dirty != a->dirty || reserved != a->reserved || a->peak_committed < committed)
        HAK_CHECK_FAIL("byte counters disagree with the slice maps");
    size_t linked = 0;
    for (unsigned cls = 0; cls < HAK_NUM_CLASSES; cls++) {
        hak_page_t *page = a->bins[cls].page;
        if (!page)
            HAK_CHECK_FAIL("bin without a page");
        if (page == &_hak_empty_page)
            continue;
        for (hak_page_t *prev = NULL; page; prev = page, page = page->next) {
            obj = page;
            if (++linked > in_bins || !is_page_of(a, page) || page->prev != prev || !page->in_bin ||
                page->kind != HAK_PAGE_SMALL || page->cls != cls)
                HAK_CHECK_FAIL("bin list");
        }
    }
    obj = a;
    if (linked != in_bins)
        HAK_CHECK_FAIL("pages marked in a bin but not linked");
    return 0;
}
