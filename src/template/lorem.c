/* lorem.c — {% lorem %}: the classic "lorem ipsum" paragraph and word lists, in the same
 * order as django.utils.lorem_ipsum so that the non-random forms match Django byte for byte;
 * the random forms draw words the same way (their exact output is random in Django too). */
#include "template/internal.h"

#include <string.h>
#include <time.h>

static const char common_p[] =
    "Lorem ipsum dolor sit amet, consectetur adipisicing elit, sed do eiusmod tempor "
    "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostr"
    "ud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis au"
    "te irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat "
    "nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qu"
    "i officia deserunt mollit anim id est laborum.";

static const char *const words[] = {
    "exercitationem",
    "perferendis",
    "perspiciatis",
    "laborum",
    "eveniet",
    "sunt",
    "iure",
    "nam",
    "nobis",
    "eum",
    "cum",
    "officiis",
    "excepturi",
    "odio",
    "consectetur",
    "quasi",
    "aut",
    "quisquam",
    "vel",
    "eligendi",
    "itaque",
    "non",
    "odit",
    "tempore",
    "quaerat",
    "dignissimos",
    "facilis",
    "neque",
    "nihil",
    "expedita",
    "vitae",
    "vero",
    "ipsum",
    "nisi",
    "animi",
    "cumque",
    "pariatur",
    "velit",
    "modi",
    "natus",
    "iusto",
    "eaque",
    "sequi",
    "illo",
    "sed",
    "ex",
    "et",
    "voluptatibus",
    "tempora",
    "veritatis",
    "ratione",
    "assumenda",
    "incidunt",
    "nostrum",
    "placeat",
    "aliquid",
    "fuga",
    "provident",
    "praesentium",
    "rem",
    "necessitatibus",
    "suscipit",
    "adipisci",
    "quidem",
    "possimus",
    "voluptas",
    "debitis",
    "sint",
    "accusantium",
    "unde",
    "sapiente",
    "voluptate",
    "qui",
    "aspernatur",
    "laudantium",
    "soluta",
    "amet",
    "quo",
    "aliquam",
    "saepe",
    "culpa",
    "libero",
    "ipsa",
    "dicta",
    "reiciendis",
    "nesciunt",
    "doloribus",
    "autem",
    "impedit",
    "minima",
    "maiores",
    "repudiandae",
    "ipsam",
    "obcaecati",
    "ullam",
    "enim",
    "totam",
    "delectus",
    "ducimus",
    "quis",
    "voluptates",
    "dolores",
    "molestiae",
    "harum",
    "dolorem",
    "quia",
    "voluptatem",
    "molestias",
    "magni",
    "distinctio",
    "omnis",
    "illum",
    "dolorum",
    "voluptatum",
    "ea",
    "quas",
    "quam",
    "corporis",
    "quae",
    "blanditiis",
    "atque",
    "deserunt",
    "laboriosam",
    "earum",
    "consequuntur",
    "hic",
    "cupiditate",
    "quibusdam",
    "accusamus",
    "ut",
    "rerum",
    "error",
    "minus",
    "eius",
    "ab",
    "ad",
    "nemo",
    "fugit",
    "officia",
    "at",
    "in",
    "id",
    "quos",
    "reprehenderit",
    "numquam",
    "iste",
    "fugiat",
    "sit",
    "inventore",
    "beatae",
    "repellendus",
    "magnam",
    "recusandae",
    "quod",
    "explicabo",
    "doloremque",
    "aperiam",
    "consequatur",
    "asperiores",
    "commodi",
    "optio",
    "dolor",
    "labore",
    "temporibus",
    "repellat",
    "veniam",
    "architecto",
    "est",
    "esse",
    "mollitia",
    "nulla",
    "a",
    "similique",
    "eos",
    "alias",
    "dolore",
    "tenetur",
    "deleniti",
    "porro",
    "facere",
    "maxime",
    "corrupti",
};

static const char *const common_words[] = {
    "lorem",  "ipsum", "dolor",  "sit",     "amet",   "consectetur", "adipisicing",
    "elit",   "sed",   "do",     "eiusmod", "tempor", "incididunt",  "ut",
    "labore", "et",    "dolore", "magna",   "aliqua",
};

#define NWORDS (sizeof words / sizeof words[0])
#define NCOMMON (sizeof common_words / sizeof common_words[0])

static uint64_t rng_state;

static uint64_t rnd(void)
{
    if (!rng_state)
        rng_state = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull | 1;
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static int randint(int lo, int hi)
{
    return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}

/* random.sample(WORDS, k) written space-separated */
static int sample(mn_buf *out, int k, bool capitalize_first)
{
    int idx[NWORDS];
    for (size_t i = 0; i < NWORDS; i++)
        idx[i] = (int)i;
    for (int i = 0; i < k; i++) {
        int j = i + (int)(rnd() % (uint64_t)((int)NWORDS - i));
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
        const char *w = words[idx[i]];
        if (i && mn_buf_putc(out, ' ') < 0)
            return MN_ENOMEM;
        if (capitalize_first && i == 0) {
            if (mn_buf_putc(out, (char)(w[0] - 32)) < 0 || mn_buf_puts(out, w + 1) < 0)
                return MN_ENOMEM;
        } else if (mn_buf_puts(out, w) < 0) {
            return MN_ENOMEM;
        }
    }
    return MN_OK;
}

static int sentence(mn_buf *out)
{
    int sections = randint(1, 5);
    for (int s = 0; s < sections; s++) {
        if (s && mn_buf_puts(out, ", ") < 0)
            return MN_ENOMEM;
        if (sample(out, randint(3, 12), s == 0) < 0)
            return MN_ENOMEM;
    }
    return mn_buf_putc(out, (rnd() & 1) ? '?' : '.');
}

static int paragraph(mn_buf *out)
{
    int n = randint(1, 4);
    for (int i = 0; i < n; i++) {
        if (i && mn_buf_putc(out, ' ') < 0)
            return MN_ENOMEM;
        if (sentence(out) < 0)
            return MN_ENOMEM;
    }
    return MN_OK;
}

/* Output is bounded by the caller's size check; counts are capped so a huge count cannot
 * run for ever before that check. */
#define MAX_COUNT 100000

int mn__lorem(mn_buf *out, int64_t count, char method, bool random)
{
    if (count > MAX_COUNT)
        count = MAX_COUNT;
    if (method == 'w') {
        bool first = true;
        if (!random) {
            for (int64_t i = 0; i < count && i < (int64_t)NCOMMON; i++) {
                if (!first && mn_buf_putc(out, ' ') < 0)
                    return MN_ENOMEM;
                if (mn_buf_puts(out, common_words[i]) < 0)
                    return MN_ENOMEM;
                first = false;
            }
            count -= (int64_t)NCOMMON;
        }
        while (count > 0) {
            int c = count < (int64_t)NWORDS ? (int)count : (int)NWORDS;
            count -= c;
            if (!first && mn_buf_putc(out, ' ') < 0)
                return MN_ENOMEM;
            if (sample(out, c, false) < 0)
                return MN_ENOMEM;
            first = false;
        }
        return MN_OK;
    }
    for (int64_t i = 0; i < count; i++) {
        if (i && mn_buf_puts(out, "\n\n") < 0)
            return MN_ENOMEM;
        if (method == 'p' && mn_buf_puts(out, "<p>") < 0)
            return MN_ENOMEM;
        int rc = (!random && i == 0) ? mn_buf_puts(out, common_p) : paragraph(out);
        if (rc < 0)
            return MN_ENOMEM;
        if (method == 'p' && mn_buf_puts(out, "</p>") < 0)
            return MN_ENOMEM;
    }
    return MN_OK;
}
