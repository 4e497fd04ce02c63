/*
 * A small JSON reader for the C test drivers (RFC 8259, strict).
 *
 *   struct json *j = json_load("case.json", err, sizeof err);
 *   const struct json *uri = json_get(json_at(j, 0), "uri");
 *   ... uri->str, uri->len ...
 *   json_free(j);
 *
 * Strings are byte strings: the corpus writes bytes as ISO-8859-1 text, so
 * a code point <= 0xFF (from a \uXXXX escape or from raw UTF-8 in the text)
 * becomes that one byte; larger code points are kept as UTF-8. A string may
 * hold NUL bytes (len counts them); object keys may not.
 *
 * Numbers are read with strtod(), so the C locale is assumed. Containers
 * nest at most JSON_MAX_DEPTH deep. Errors are "offset N: what", N being
 * the byte offset in the text. No global state.
 */
#ifndef CU_TEST_JSON_H
#define CU_TEST_JSON_H

#include <stddef.h>

#define JSON_MAX_DEPTH 64

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT };

struct json {                 /* one value; a tree of them */
    enum json_type type;
    int boolean;
    double number;
    char *str; size_t len;    /* JSON_STRING: bytes, NUL-terminated, len excludes the NUL */
    struct json **items;      /* JSON_ARRAY / JSON_OBJECT values */
    char **keys;              /* JSON_OBJECT keys (NUL-terminated), parallel to items */
    size_t n;
};

/* Parses text[0..len) (need not be NUL-terminated). NULL and a message in
 * err (if err != NULL) on error. */
struct json *json_parse(const char *text, size_t len, char *err, size_t errlen);
/* Reads the whole file and parses it; messages are prefixed with path. */
struct json *json_load(const char *path, char *err, size_t errlen);
void json_free(struct json *j);                                        /* NULL is fine */
/* The value for key; if the key repeats, the last one (as Python does). */
const struct json *json_get(const struct json *obj, const char *key);  /* NULL if absent or not an object */
const struct json *json_at(const struct json *arr, size_t i);          /* NULL if out of range or not an array */

#endif
