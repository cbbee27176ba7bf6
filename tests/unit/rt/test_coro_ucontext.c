/* The coroutine tests again, with the ucontext(3) switch that platforms without a hand-written
 * one use: this file compiles its own copy of coro.c with MN_CORO_UCONTEXT, and the linker
 * then takes no coro.o from the library. */
#define MN_CORO_UCONTEXT 1
#include "rt/coro.c"

#define CORO_SUITE coro_ucontext
#include "test_coro.c"
