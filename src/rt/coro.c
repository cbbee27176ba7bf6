/* coro.c — coroutines: the context switch, pooled stacks, and park/wake/yield.
 *
 * The idea: a coroutine only ever switches to the loop's own context and back (the loop picks
 * who runs next), so a switch saves just the callee-saved registers and the stack pointer. On
 * x86_64 and aarch64 that is a dozen instructions of hand-written assembly; elsewhere, or when
 * MN_CORO_UCONTEXT is defined (a test builds this file both ways), swapcontext(3) does it.
 *
 * Each coroutine lives in one mmap: a guard page, the stack, and the mn_coro struct at the top.
 * Finished mappings go to the loop's free list, so spawning a coroutine in a warm loop makes
 * no system call and no allocation. Under AddressSanitizer every switch is announced with
 * __sanitizer_start/finish_switch_fiber, and recycled stacks are unpoisoned. */
#include "rt/internal.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(MN_CORO_UCONTEXT) || !(defined(__x86_64__) || defined(__aarch64__))
#define MN_USE_UCONTEXT 1
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define MN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MN_ASAN 1
#endif
#endif
#ifdef MN_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

enum {
    DEFAULT_STACK = 64 * 1024,
    MIN_STACK = 16 * 1024,
    POOL_MAX = 1024, /* finished mappings kept for reuse; more are unmapped */
};

void mn__coro_entry(mn_coro *c) __attribute__((noreturn, visibility("hidden")));

/* ---- The context switch. ---- */
#ifndef MN_USE_UCONTEXT
/* Saves the callee-saved registers on the current stack, stores the stack pointer in *save,
 * loads to as the stack pointer and pops the registers saved there. */
void mn__ctx_switch(void **save, void *to) __attribute__((visibility("hidden")));
void mn__ctx_trampoline(void) __attribute__((visibility("hidden")));

#if defined(__x86_64__)
__asm__(".text\n"
        ".globl mn__ctx_switch\n"
        ".hidden mn__ctx_switch\n"
        ".type mn__ctx_switch,@function\n"
        ".p2align 4\n"
        "mn__ctx_switch:\n"
        "    pushq %rbp\n"
        "    pushq %rbx\n"
        "    pushq %r12\n"
        "    pushq %r13\n"
        "    pushq %r14\n"
        "    pushq %r15\n"
        "    movq %rsp, (%rdi)\n"
        "    movq %rsi, %rsp\n"
        "    popq %r15\n"
        "    popq %r14\n"
        "    popq %r13\n"
        "    popq %r12\n"
        "    popq %rbx\n"
        "    popq %rbp\n"
        "    ret\n"
        ".size mn__ctx_switch,.-mn__ctx_switch\n"
        /* A new coroutine's first switch "returns" here with the mn_coro in r12 and a
         * 16-byte aligned stack, as a call expects. */
        ".globl mn__ctx_trampoline\n"
        ".hidden mn__ctx_trampoline\n"
        ".type mn__ctx_trampoline,@function\n"
        ".p2align 4\n"
        "mn__ctx_trampoline:\n"
        "    movq %r12, %rdi\n"
        "    call mn__coro_entry\n"
        "    ud2\n"
        ".size mn__ctx_trampoline,.-mn__ctx_trampoline\n");

static void ctx_init(mn_coro *c, char *stack_top)
{
    uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)15;
    void **sp = (void **)(top - 72);
    memset(sp, 0, 72);
    sp[3] = c;                          /* r12 */
    sp[5] = NULL;                       /* rbp: ends backtraces */
    sp[6] = (void *)mn__ctx_trampoline; /* return address */
    c->ctx = sp;
}
#elif defined(__aarch64__)
__asm__(".text\n"
        ".globl mn__ctx_switch\n"
        ".hidden mn__ctx_switch\n"
        ".type mn__ctx_switch,%function\n"
        ".p2align 4\n"
        "mn__ctx_switch:\n"
        "    sub sp, sp, #160\n"
        "    stp x19, x20, [sp, #0]\n"
        "    stp x21, x22, [sp, #16]\n"
        "    stp x23, x24, [sp, #32]\n"
        "    stp x25, x26, [sp, #48]\n"
        "    stp x27, x28, [sp, #64]\n"
        "    stp x29, x30, [sp, #80]\n"
        "    stp d8, d9, [sp, #96]\n"
        "    stp d10, d11, [sp, #112]\n"
        "    stp d12, d13, [sp, #128]\n"
        "    stp d14, d15, [sp, #144]\n"
        "    mov x2, sp\n"
        "    str x2, [x0]\n"
        "    mov sp, x1\n"
        "    ldp x19, x20, [sp, #0]\n"
        "    ldp x21, x22, [sp, #16]\n"
        "    ldp x23, x24, [sp, #32]\n"
        "    ldp x25, x26, [sp, #48]\n"
        "    ldp x27, x28, [sp, #64]\n"
        "    ldp x29, x30, [sp, #80]\n"
        "    ldp d8, d9, [sp, #96]\n"
        "    ldp d10, d11, [sp, #112]\n"
        "    ldp d12, d13, [sp, #128]\n"
        "    ldp d14, d15, [sp, #144]\n"
        "    add sp, sp, #160\n"
        "    ret\n"
        ".size mn__ctx_switch,.-mn__ctx_switch\n"
        ".globl mn__ctx_trampoline\n"
        ".hidden mn__ctx_trampoline\n"
        ".type mn__ctx_trampoline,%function\n"
        ".p2align 4\n"
        "mn__ctx_trampoline:\n"
        "    mov x0, x19\n"
        "    bl mn__coro_entry\n"
        "    brk #0\n"
        ".size mn__ctx_trampoline,.-mn__ctx_trampoline\n");

static void ctx_init(mn_coro *c, char *stack_top)
{
    uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)15;
    void **sp = (void **)(top - 160);
    memset(sp, 0, 160);
    sp[0] = c;                           /* x19 */
    sp[10] = NULL;                       /* x29: ends backtraces */
    sp[11] = (void *)mn__ctx_trampoline; /* x30 */
    c->ctx = sp;
}
#endif

static inline void ctx_switch(void **from, void **to)
{
    mn__ctx_switch(from, *to);
}

static size_t ctx_extra(void)
{
    return 0;
}

static int sched_ctx_init(mn_loop *loop)
{
    loop->sched_ctx = NULL;
    return MN_OK;
}

static void sched_ctx_fini(mn_loop *loop)
{
    (void)loop;
}
#else /* ucontext */
static void uctx_entry(unsigned hi, unsigned lo)
{
    mn__coro_entry((mn_coro *)(((uintptr_t)hi << 32) | (uintptr_t)lo));
}

static void ctx_init(mn_coro *c, char *stack_top)
{
    ucontext_t *uc = (ucontext_t *)((char *)c + ((sizeof *c + 15) & ~(size_t)15));
    getcontext(uc);
    uc->uc_stack.ss_sp = stack_top - c->stack_size;
    uc->uc_stack.ss_size = c->stack_size;
    uc->uc_link = NULL;
    uintptr_t p = (uintptr_t)c;
    makecontext(uc, (void (*)(void))uctx_entry, 2, (unsigned)(p >> 32), (unsigned)p);
    c->ctx = uc;
}

static inline void ctx_switch(void **from, void **to)
{
    swapcontext((ucontext_t *)*from, (ucontext_t *)*to);
}

static size_t ctx_extra(void)
{
    return sizeof(ucontext_t) + 16;
}

static int sched_ctx_init(mn_loop *loop)
{
    loop->sched_ctx = mn_calloc(1, sizeof(ucontext_t));
    return loop->sched_ctx ? MN_OK : MN_ENOMEM;
}

static void sched_ctx_fini(mn_loop *loop)
{
    mn_free(loop->sched_ctx);
    loop->sched_ctx = NULL;
}
#endif

/* ---- Sanitizer announcements (no-ops in normal builds). ---- */
static inline void asan_start(void **fake_save, const void *bottom, size_t size)
{
#ifdef MN_ASAN
    __sanitizer_start_switch_fiber(fake_save, bottom, size);
#else
    (void)fake_save, (void)bottom, (void)size;
#endif
}

static inline void asan_finish(void *fake, const void **bottom_old, size_t *size_old)
{
#ifdef MN_ASAN
    __sanitizer_finish_switch_fiber(fake, bottom_old, size_old);
#else
    (void)fake, (void)bottom_old, (void)size_old;
#endif
}

static char *stack_bottom(const mn_coro *c)
{
    return (char *)c - c->stack_size;
}

/* ---- The loop's side. ---- */
int mn__coro_sched_init(mn_loop *loop)
{
    if (!loop->stack_size)
        loop->stack_size = DEFAULT_STACK;
    return sched_ctx_init(loop);
}

void mn__coro_sched_fini(mn_loop *loop)
{
    sched_ctx_fini(loop);
}

void mn__coro_resume(mn_loop *loop, mn_coro *c)
{
    c->state = MN__CORO_RUNNING;
    loop->current = c;
    asan_start(&loop->sched_fake_stack, stack_bottom(c), c->stack_size);
    ctx_switch(&loop->sched_ctx, &c->ctx);
    asan_finish(loop->sched_fake_stack, NULL, NULL);
    loop->current = NULL;
    if (c->state == MN__CORO_DONE)
        mn__coro_release(loop, c);
}

/* Switches from the running coroutine to the loop; returns when the loop resumes it. */
static void to_loop(mn_coro *c, bool final)
{
    mn_loop *loop = c->loop;
    asan_start(final ? NULL : &c->fake_stack, loop->sched_stack_bottom, loop->sched_stack_size);
    ctx_switch(&c->ctx, &loop->sched_ctx);
    asan_finish(c->fake_stack, NULL, NULL);
}

void mn__coro_entry(mn_coro *c)
{
    mn_loop *loop = c->loop;
    asan_finish(NULL, &loop->sched_stack_bottom, &loop->sched_stack_size);
    c->fn(c->arg);
    c->state = MN__CORO_DONE;
    to_loop(c, true);
    __builtin_unreachable();
}

static void unlink_live(mn_loop *loop, mn_coro *c)
{
    if (c->prev_live)
        c->prev_live->next_live = c->next_live;
    else
        loop->live = c->next_live;
    if (c->next_live)
        c->next_live->prev_live = c->prev_live;
    c->prev_live = c->next_live = NULL;
    loop->nlive--;
}

static size_t page_size(void)
{
    static size_t page;
    if (!page)
        page = (size_t)sysconf(_SC_PAGESIZE);
    return page;
}

static size_t header_size(void)
{
    return (sizeof(mn_coro) + ctx_extra() + 63) & ~(size_t)63;
}

/* A mapping holds a guard page, at least stack_size bytes of stack and the struct on top. */
static size_t map_size_for(size_t stack_size)
{
    size_t page = page_size();
    return page + ((stack_size + header_size() + page - 1) & ~(page - 1));
}

void mn__coro_release(mn_loop *loop, mn_coro *c)
{
    unlink_live(loop, c);
#ifdef MN_ASAN
    /* Frames that never returned (an abandoned coroutine) leave poisoned redzones behind. */
    ASAN_UNPOISON_MEMORY_REGION(stack_bottom(c), c->stack_size);
#endif
    if (loop->nfree >= POOL_MAX || c->map_size != map_size_for(loop->stack_size) || loop->freeing) {
        munmap(c->map, c->map_size);
        return;
    }
    c->state = 0;
    c->next_free = loop->free_coros;
    loop->free_coros = c;
    loop->nfree++;
}

void mn__coro_pool_clear(mn_loop *loop)
{
    while (loop->free_coros) {
        mn_coro *c = loop->free_coros;
        loop->free_coros = c->next_free;
        munmap(c->map, c->map_size);
    }
    loop->nfree = 0;
}

static mn_coro *map_coro(size_t stack_size)
{
    size_t page = page_size(), header = header_size();
    size_t total = map_size_for(stack_size);
    char *map = mmap(NULL, total, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED)
        return NULL;
    if (mprotect(map, page, PROT_NONE) != 0) {
        munmap(map, total);
        return NULL;
    }
    mn_coro *c = (mn_coro *)(map + total - header);
    c->map = map;
    c->map_size = total;
    c->stack_size = total - page - header;
    return c;
}

void mn_loop_set_stack_size(mn_loop *loop, size_t bytes)
{
    if (!loop)
        return;
    loop->stack_size = bytes < MIN_STACK ? MIN_STACK : bytes;
    mn__coro_pool_clear(loop); /* pooled stacks have the old size */
}

mn_coro *mn_coro_spawn(mn_loop *loop, mn_coro_fn fn, void *arg)
{
    if (!loop || !fn)
        return NULL;
    mn_coro *c = loop->free_coros;
    if (c) {
        loop->free_coros = c->next_free;
        loop->nfree--;
    } else {
        c = map_coro(loop->stack_size);
        if (!c)
            return NULL;
    }
    char *map = c->map;
    size_t map_size = c->map_size, stack_size = c->stack_size;
    memset(c, 0, sizeof *c);
    c->map = map;
    c->map_size = map_size;
    c->stack_size = stack_size;
    c->loop = loop;
    c->fn = fn;
    c->arg = arg;
    ctx_init(c, (char *)c);
    c->next_live = loop->live;
    if (loop->live)
        loop->live->prev_live = c;
    loop->live = c;
    loop->nlive++;
    c->state = MN__CORO_READY;
    mn__ready_push(loop, c);
    return c;
}

mn_coro *mn_coro_current(void)
{
    mn_loop *loop = mn__current_loop;
    return loop ? loop->current : NULL;
}

void mn_coro_park(void)
{
    mn_coro *c = mn_coro_current();
    if (!c)
        return;
    c->state = MN__CORO_PARKED;
    to_loop(c, false);
}

void mn_coro_yield(void)
{
    mn_coro *c = mn_coro_current();
    if (!c)
        return;
    c->state = MN__CORO_READY;
    mn__ready_push(c->loop, c);
    to_loop(c, false);
}

void mn_coro_wake(mn_coro *c)
{
    if (!c || c->state != MN__CORO_PARKED)
        return;
    c->state = MN__CORO_READY;
    mn__ready_push(c->loop, c);
}

void mn_coro_set_local(mn_coro *c, void *value)
{
    if (c)
        c->local = value;
}

void *mn_coro_get_local(mn_coro *c)
{
    return c ? c->local : NULL;
}
