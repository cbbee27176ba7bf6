/* filters_internal.h — helpers shared by the built-in filters (src/template/filters*.c).
 *
 * Filters copy Django's Python code, so these helpers give them Python's building blocks:
 * str() of a value, int() of an argument, UTF-8 walking by code point, case mapping and
 * the character classes Python's str methods and re use. Results are allocated in the
 * render arena (call->arena); nothing here allocates elsewhere. */
#ifndef MN_TEMPLATE_FILTERS_INTERNAL_H
#define MN_TEMPLATE_FILTERS_INTERNAL_H

#include <manouche/template.h>

#include <stdint.h>

/* ---- Values. ---- */
/* Python str(v) as a slice in the arena (a string's own text, no copy). 0 or a code. */
int mn__ftext(const mn_filter_call *c, const mn_value *v, mn_str *out) MN_MAY_YIELD;
/* A result string (not safe / safe) made from the buffer's bytes (no copy). */
mn_value *mn__fresult(const mn_filter_call *c, mn_buf *b, bool safe);
/* Python int(arg) for the argument forms templates pass: int, bool, float (truncated),
 * decimal, or a string holding an integer (surrounding whitespace allowed). false when
 * Python would raise ValueError/TypeError. */
bool mn__fint(const mn_value *arg, int64_t *out);
/* Appends Django's escape() of s (& < > " '). */
int mn__fescape(mn_buf *b, mn_str s);
/* conditional_escape(v) as text: safe values unchanged, others escaped. */
int mn__fcond_escape(const mn_filter_call *c, const mn_value *v, mn_buf *b) MN_MAY_YIELD;
/* list(s): the string's code points as a list of one-character strings (never safe). */
mn_value *mn__fchars(const mn_filter_call *c, mn_str s);
/* A filter that failed with Python's exception; the render aborts with the message. */
mn_value *mn__ffail(const mn_filter_call *c, const char *msg);

/* ---- UTF-8 and Unicode (filters_unicode.c). ---- */
/* Decodes the code point at s[*i] and advances *i; invalid bytes decode as themselves. */
uint32_t mn__utf8_next(const char *s, size_t len, size_t *i);
int mn__utf8_put(mn_buf *b, uint32_t cp);
size_t mn__utf8_count(mn_str s); /* code points */
/* Byte offset of code point index n (clamped to len). */
size_t mn__utf8_offset(mn_str s, size_t n);
/* Python's simple (one character) case mapping and "cased" property (filters_casemap.c). */
uint32_t mn__uni_lower(uint32_t cp);
uint32_t mn__uni_upper(uint32_t cp);
bool mn__uni_cased(uint32_t cp);
/* \d of a str pattern (Unicode category Nd). */
bool mn__uni_decimal(uint32_t cp);
/* Appends Python's full mapping of cp: which is 'l' lower, 'u' upper, 't' title. */
int mn__uni_put_case(mn_buf *b, uint32_t cp, char which);
/* Lower-cases cp found at s[at..after) (U+03A3 becomes final sigma where Python's does). */
int mn__uni_lower_at(mn_buf *b, mn_str s, size_t at, size_t after, uint32_t cp);
/* Python str.isspace() (what str.split() splits on). */
bool mn__uni_space(uint32_t cp);
/* Unicode combining marks (unicodedata.combining() != 0) for the common blocks. */
bool mn__uni_combining(uint32_t cp);
/* Appends Python's s.lower() / s.upper(), full mappings (ß to SS, final sigma ...). */
int mn__uni_lower_str(mn_buf *b, mn_str s);
int mn__uni_upper_str(mn_buf *b, mn_str s);
/* unicodedata.normalize('NFKD', s).encode('ascii', 'ignore'), for slugify. */
int mn__uni_ascii_fold(mn_buf *b, mn_str s);
/* NFC composition of base + combining mark pairs (Latin), for truncatechars. */
int mn__uni_nfc(mn_buf *b, mn_str s);

/* ---- Shared between families. ---- */
/* Django's date-format engine (django.utils.dateformat): appends v formatted by fmt (a
 * format string or a setting name such as "DATE_FORMAT"). MN_EINVAL when v is not a
 * date/time, MN_EUNSUPPORTED when fmt asks a date for a time field (Django's TypeError). */
int mn__date_format(const mn_filter_call *c, const mn_value *v, mn_str fmt, bool time_only,
                    mn_buf *out);
/* django.utils.numberformat.format with the en locale ('.' and ',' every 3 digits):
 * digits is a plain "-123.45" string. */
int mn__number_format(mn_buf *out, mn_str digits, int decimal_pos, bool grouping);

/* Registration, one per family file. */
void mn__filters_register_string(mn_template_library *lib);
void mn__filters_register_html(mn_template_library *lib);
void mn__filters_register_number(mn_template_library *lib);
void mn__filters_register_list(mn_template_library *lib);
void mn__filters_register_date(mn_template_library *lib);
void mn__filters_register_urlize(mn_template_library *lib);

#endif
