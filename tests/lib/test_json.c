/*
 * The JSON reader: escapes and byte decoding, NUL in strings, numbers,
 * nesting, errors with offsets, and the whole HTTP request corpus.
 * Every text is parsed from a guard buffer, so reading past len faults.
 *
 *   test_json [CORPUS_DIR]    (default tests/corpus/gunicorn, from the root)
 */
#include "guard.h"
#include "json.h"
#include "tap.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_CORPUS "tests/corpus/gunicorn"

static char err[256];

/* Parses text[0..len) placed flush against a PROT_NONE page. */
static struct json *parse_mem(const char *text, size_t len)
{
    struct guard_buf g;
    char *p = guard_alloc(&g, text, len);
    struct json *j;

    if (p == NULL) {
        (void)snprintf(err, sizeof err, "guard_alloc: %s", strerror(errno));
        return NULL;
    }
    j = json_parse(p, len, err, sizeof err);
    guard_free(&g);
    return j;
}

static struct json *parse(const char *text) { return parse_mem(text, strlen(text)); }

/* The string text decodes to the bytes want[0..wlen). */
static void str_is(const char *text, const char *want, size_t wlen, const char *what)
{
    struct json *j = parse(text);
    int good = j != NULL && j->type == JSON_STRING && j->len == wlen &&
               memcmp(j->str, want, wlen) == 0 && j->str[wlen] == '\0';

    ok(good, "string %s", what);
    if (!good)
        diag("%s", j ? "wrong bytes" : err);
    json_free(j);
}

static void num_is(const char *text, double want)
{
    struct json *j = parse(text);

    ok(j != NULL && j->type == JSON_NUMBER && j->number == want, "number %s", text);
    json_free(j);
}

/* text is rejected and the message starts with "offset <at>:". */
static void bad_mem(const char *text, size_t len, size_t at, const char *what)
{
    char want[32];
    struct json *j = parse_mem(text, len);

    (void)snprintf(want, sizeof want, "offset %zu:", at);
    ok(j == NULL && strncmp(err, want, strlen(want)) == 0, "rejects %s (%s)", what, err);
    json_free(j);
}

static void bad(const char *text, size_t at, const char *what) { bad_mem(text, strlen(text), at, what); }

static void test_strings(void)
{
    struct json *j;

    str_is("\"\"", "", 0, "empty");
    str_is("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "a\"b\\c/d\b\f\n\r\t", 12, "simple escapes");
    str_is("\"\\u0041\\u00e9\\u00E9\"", "A\xe9\xe9", 3, "\\u escapes <= 0xFF are one byte");
    str_is("\"caf\\u00c3\\u00a9\"", "caf\xc3\xa9", 5, "latin-1 text gives the bytes C3 A9");
    str_is("\"\\u20ac\\u0100\"", "\xe2\x82\xac\xc4\x80", 5, "\\u escapes > 0xFF are UTF-8");
    str_is("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4, "surrogate pair is UTF-8");
    str_is("\"caf\xc3\xa9\"", "caf\xe9", 4, "raw UTF-8 <= 0xFF is one byte");
    str_is("\"\xc2\x80\xc3\xbf\"", "\x80\xff", 2, "raw UTF-8 U+0080 and U+00FF");
    str_is("\"\xe2\x82\xac \xf0\x9f\x98\x80\"", "\xe2\x82\xac \xf0\x9f\x98\x80", 8,
           "raw UTF-8 > 0xFF kept");
    str_is("\"a\\u0000b\"", "a\0b", 3, "NUL inside");
    str_is("\"\\u0000\"", "\0", 1, "only NUL");

    j = parse("{\"a\\u00e9\":\"x\"}");
    ok(j != NULL && j->n == 1 && strcmp(j->keys[0], "a\xe9") == 0, "escaped key decoded");
    json_free(j);

    bad("\"abc", 0, "unterminated string");
    bad("\"abc\\\"", 0, "string ending in an escaped quote");
    bad("\"\\", 0, "lone backslash at the end");
    bad("\"ab\\x\"", 3, "unknown escape");
    bad("\"\\u12\"", 1, "short \\u");
    bad("\"\\u12g4\"", 1, "non-hex \\u");
    bad("\"\\ud83d\"", 1, "lone high surrogate");
    bad("\"\\ud83dxxxxxx\"", 1, "high surrogate then text");
    bad("\"\\ud83d\\u0041\"", 1, "high surrogate then non-surrogate");
    bad("\"x\\ude00\"", 2, "lone low surrogate");
    bad("\"a\x01\"", 2, "raw control character");
    bad("\"a\tb\"", 2, "raw tab");
    bad_mem("\"a\0b\"", 5, 2, "raw NUL byte");
    bad("\"a\xff\"", 2, "byte 0xFF");
    bad("\"a\x80\"", 2, "stray continuation byte");
    bad("\"\xc0\x80\"", 1, "overlong NUL");
    bad("\"\xe0\x80\xaf\"", 1, "overlong 3-byte");
    bad("\"\xed\xa0\x80\"", 1, "UTF-8 surrogate");
    bad("\"\xf4\x90\x80\x80\"", 1, "above U+10FFFF");
    bad("\"\xc3\"", 1, "truncated sequence before the quote");
    bad("\"\xe2\x82\"", 1, "truncated 3-byte sequence");
    bad("{\"a\\u0000\":1}", 1, "NUL in a key");
}

static void test_numbers(void)
{
    char longnum[128];

    num_is("0", 0);
    num_is("-0", 0);
    num_is("7", 7);
    num_is("-12", -12);
    num_is("1.5", 1.5);
    num_is("-2.5e3", -2500);
    num_is("1E+2", 100);
    num_is("25e-2", 0.25);
    num_is("123456789012", 123456789012.0);
    num_is("1e-400", 0);
    memset(longnum, '0', sizeof longnum);
    longnum[0] = '1';
    longnum[101] = '\0';
    num_is(longnum, 1e100);

    bad("01", 1, "leading zero");
    bad("-", 1, "bare minus");
    bad("-a", 1, "minus without digits");
    bad("+1", 0, "plus sign");
    bad(".5", 0, "no integer part");
    bad("1.", 2, "no fraction digits");
    bad("1.e3", 2, "dot then exponent");
    bad("1e", 2, "no exponent digits");
    bad("1e+", 3, "exponent sign only");
    bad("0x10", 1, "hex");
    bad("1e999", 0, "overflow");
    bad("-1e999", 0, "negative overflow");
    bad("NaN", 0, "NaN");
    bad("Infinity", 0, "Infinity");
}

static void test_structure(void)
{
    char deep[2 * JSON_MAX_DEPTH + 8];
    struct json *j;
    const struct json *v;

    j = parse(" {\"a\": [1, true, false, null, \"s\", {}, []], \"b\": {\"c\": {\"d\": 4}},"
              " \"a\": \"last\"}\r\n\t");
    ok(j != NULL && j->type == JSON_OBJECT && j->n == 3, "object parsed (%s)", j ? "ok" : err);
    v = json_get(j, "a");
    ok(v != NULL && v->type == JSON_STRING && strcmp(v->str, "last") == 0, "repeated key: last wins");
    v = j != NULL ? j->items[0] : NULL;
    ok(v != NULL && v->type == JSON_ARRAY && v->n == 7, "array of 7");
    ok(json_at(v, 0) && json_at(v, 0)->number == 1, "[0] is 1");
    ok(json_at(v, 1) && json_at(v, 1)->type == JSON_BOOL && json_at(v, 1)->boolean == 1, "[1] true");
    ok(json_at(v, 2) && json_at(v, 2)->type == JSON_BOOL && json_at(v, 2)->boolean == 0, "[2] false");
    ok(json_at(v, 3) && json_at(v, 3)->type == JSON_NULL, "[3] null");
    ok(json_at(v, 5) && json_at(v, 5)->type == JSON_OBJECT && json_at(v, 5)->n == 0, "[5] {}");
    ok(json_at(v, 6) && json_at(v, 6)->type == JSON_ARRAY && json_at(v, 6)->n == 0, "[6] []");
    ok(json_at(v, 7) == NULL, "json_at out of range is NULL");
    v = json_get(json_get(json_get(j, "b"), "c"), "d");
    ok(v != NULL && v->number == 4, "b.c.d is 4");
    ok(json_get(j, "zz") == NULL && json_get(json_at(json_get(j, "a"), 0), "x") == NULL &&
       json_get(NULL, "a") == NULL && json_at(j, 0) == NULL && json_at(NULL, 0) == NULL,
       "absent key, non-object, non-array and NULL give NULL");
    json_free(j);

    j = parse("[[1,2],[3,[4,[5]]]]");
    v = json_at(json_at(json_at(json_at(j, 1), 1), 1), 0);
    ok(v != NULL && v->number == 5, "nested arrays");
    json_free(j);

    j = parse("[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]");
    ok(j != NULL && j->n == 21 && json_at(j, 20)->number == 20, "array growth");
    json_free(j);

    memset(deep, '[', JSON_MAX_DEPTH);
    memset(deep + JSON_MAX_DEPTH, ']', JSON_MAX_DEPTH);
    j = parse_mem(deep, (size_t)2 * JSON_MAX_DEPTH);
    ok(j != NULL, "%d nested arrays accepted", JSON_MAX_DEPTH);
    json_free(j);
    memset(deep, '[', JSON_MAX_DEPTH + 1);
    memset(deep + JSON_MAX_DEPTH + 1, ']', JSON_MAX_DEPTH + 1);
    bad_mem(deep, 2 * JSON_MAX_DEPTH + 2, JSON_MAX_DEPTH, "nesting one deeper than the limit");
    memset(deep, '[', JSON_MAX_DEPTH);
    deep[JSON_MAX_DEPTH] = '{';
    bad_mem(deep, JSON_MAX_DEPTH + 1, JSON_MAX_DEPTH, "object one deeper than the limit");

    j = json_parse("[1]", 3, NULL, 0);
    ok(j != NULL, "err may be NULL");
    json_free(j);
    ok(json_parse("[", 1, NULL, 0) == NULL, "error with err NULL");
    ok(json_parse(NULL, 0, err, sizeof err) == NULL && strstr(err, "end of input"), "NULL, 0");
    ok(json_parse("[", 1, err, 8) == NULL && strlen(err) == 7, "message truncated to errlen");

    bad("", 0, "empty input");
    bad(" \n ", 3, "only whitespace");
    bad("[", 1, "unclosed array");
    bad("{", 1, "unclosed object");
    bad("[1,]", 3, "trailing comma in array");
    bad("{\"a\":1,}", 7, "trailing comma in object");
    bad("[1 2]", 3, "missing comma");
    bad("{\"a\" 1}", 5, "missing colon");
    bad("{1:2}", 1, "non-string key");
    bad("{\"a\":}", 5, "missing value");
    bad("1 2", 2, "two values");
    bad("[1]x", 3, "junk after the value");
    bad("tru", 0, "truncated true");
    bad("nul", 0, "truncated null");
    bad("True", 0, "capitalised literal");
    bad("[\x0c]", 1, "form feed is not whitespace");
    bad_mem("[1,\0]", 5, 3, "NUL byte between values");
    bad("\xef\xbb\xbf[]", 0, "byte order mark");
}

static void test_load(void)
{
    char path[] = "/tmp/test_json_XXXXXX";
    int fd = mkstemp(path);
    struct json *j;

    if (!ok(fd >= 0, "mkstemp"))
        return;
    ok(write(fd, "{\"k\": [1, 2]}\n", 14) == 14, "wrote temp file");
    j = json_load(path, err, sizeof err);
    ok(j != NULL && json_at(json_get(j, "k"), 1) && json_at(json_get(j, "k"), 1)->number == 2,
       "json_load reads the file");
    json_free(j);
    ok(ftruncate(fd, 5) == 0, "truncated temp file");
    j = json_load(path, err, sizeof err);
    ok(j == NULL && strncmp(err, path, strlen(path)) == 0 && strstr(err, "offset 5:"),
       "json_load error names the file and offset (%s)", err);
    ok(close(fd) == 0 && unlink(path) == 0, "removed temp file");
    j = json_load(path, err, sizeof err);
    ok(j == NULL && strstr(err, "No such file"), "missing file (%s)", err);
}

static int has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);

    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Parses proper prefixes of the file (up to its last non-space byte), each
 * placed flush against the guard page: all must be rejected. Every prefix
 * of the first 2 KiB, then a sample, so that big files stay quick. The
 * number accepted, or -1 if the file cannot be read. */
static int truncations_accepted(const char *path)
{
    char buf[65536], *p;
    struct guard_buf g;
    FILE *f = fopen(path, "rb");
    size_t len, end;
    int accepted = 0;

    if (f == NULL)
        return -1;
    len = fread(buf, 1, sizeof buf, f);
    if (ferror(f) || !feof(f) || fclose(f) != 0)
        return -1;
    for (end = len; end > 0 && strchr(" \t\r\n", buf[end - 1]) != NULL; end--)
        ;
    if ((p = guard_alloc(&g, NULL, end)) == NULL)
        return -1;
    for (size_t n = 0; n < end; n += n < 2048 ? 1 : 61) {
        struct json *j;
        memcpy(p + end - n, buf, n);
        j = json_parse(p + end - n, n, err, sizeof err);
        accepted += j != NULL;
        json_free(j);
    }
    guard_free(&g);
    return accepted;
}

/* Loads every .json file in dir and checks that the expectation files (not
 * NAME.config.json) hold a want; the number loaded, -1 if dir is unreadable. */
static int load_dir(const char *dir, enum json_type want)
{
    char path[4096];
    struct dirent *de;
    DIR *d = opendir(dir);
    int n = 0, bad_cuts = 0, cut;

    if (d == NULL)
        return -1;
    while ((de = readdir(d)) != NULL) {
        struct json *j;
        if (!has_suffix(de->d_name, ".json"))
            continue;
        (void)snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        j = json_load(path, err, sizeof err);
        if (!ok(j != NULL, "loads %s", path))
            diag("%s", err);
        else if (!has_suffix(de->d_name, ".config.json"))
            ok(j->type == want, "%s is a%s", de->d_name, want == JSON_ARRAY ? " list" : "n object");
        json_free(j);
        if ((cut = truncations_accepted(path)) != 0) {
            diag("%s: %d truncations accepted or unreadable", path, cut);
            bad_cuts++;
        }
        n++;
    }
    if (closedir(d) != 0)
        return -1;
    ok(bad_cuts == 0, "%s: every truncation of every file rejected", dir);
    return n;
}

static void test_corpus(const char *root)
{
    char path[4096];
    struct json *j;
    const struct json *uri;
    int n;

    (void)snprintf(path, sizeof path, "%s/valid", root);
    n = load_dir(path, JSON_ARRAY);
    ok(n > 0, "corpus valid/: %d files", n);
    (void)snprintf(path, sizeof path, "%s/invalid", root);
    n = load_dir(path, JSON_OBJECT);
    ok(n > 0, "corpus invalid/: %d files", n);

    (void)snprintf(path, sizeof path, "%s/index.json", root);
    j = json_load(path, err, sizeof err);
    ok(j != NULL && json_get(j, "valid") && json_get(j, "valid")->type == JSON_ARRAY &&
       json_get(j, "invalid") && json_get(j, "invalid")->type == JSON_ARRAY,
       "index.json has valid and invalid lists (%s)", j ? "ok" : err);
    json_free(j);

    (void)snprintf(path, sizeof path, "%s/valid/027.json", root);
    j = json_load(path, err, sizeof err);
    uri = json_get(json_at(j, 0), "uri");
    ok(uri != NULL && uri->len == 7 && memcmp(uri->str, "/\xc3\xa0%20k", 7) == 0,
       "valid/027.json uri is the bytes 2F C3 A0 25 32 30 6B");
    json_free(j);
}

int main(int argc, char **argv)
{
    test_strings();
    test_numbers();
    test_structure();
    test_load();
    test_corpus(argc > 1 ? argv[1] : DEFAULT_CORPUS);
    return tap_done();
}
