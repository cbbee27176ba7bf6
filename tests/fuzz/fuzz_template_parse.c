/* fuzz_template_parse.c — the template lexer and parser on arbitrary bytes: compiling must
 * either succeed or report an error, never crash, hang or leak. */
#include <manouche/template.h>

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static mn_template_engine *engine;
    if (!engine)
        engine = mn_template_engine_new();
    mn_template_error err;
    mn_template *t = mn_template_compile(engine, "fuzz.html", (const char *)data, size, &err);
    if (t)
        mn_template_free(t);
    else if (err.code == 0)
        __builtin_trap(); /* a failure must say why */
    return 0;
}
