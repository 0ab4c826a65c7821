/* test_svg.c — the SVG chart renderer: its output is well-formed XML (a small checker here, and
 * Python's XML parser when python3 is installed), holds every name and label, escapes text,
 * survives gaps, constant and empty data, and puts ticks at 1-2-5 steps. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <unistd.h>
#include "base/base.h"
#include "base/svg.h"

/* ---- helpers ---- */

static bool entity_ok(const char *p) {
    static const char *const ents[] = { "&amp;", "&lt;", "&gt;", "&quot;", "&apos;" };
    for (size_t i = 0; i < LK_ARRAY_LEN(ents); i++)
        if (strncmp(p, ents[i], strlen(ents[i])) == 0) return true;
    return false;
}

/* A small XML well-formedness check: balanced and properly nested tags, quoted attributes
 * without '<' or bare '&', no bare '&' or '<' in text, one root element named svg. Returns NULL
 * or what is wrong. */
static const char *xml_check(const char *s) {
    static char why[160];
    const char *stack[256];
    size_t lens[256], depth = 0;
    int roots = 0;
    const char *p = s;
    if (strncmp(p, "<?xml ", 6) == 0) {
        p = strstr(p, "?>");
        if (!p) return "unterminated XML declaration";
        p += 2;
    }
    while (*p) {
        if (*p == '&') {
            if (!entity_ok(p)) return "bare & in text";
            p++;
            continue;
        }
        if (*p != '<') {
            if (depth == 0 && !strchr(" \t\r\n", *p)) return "text outside the root element";
            p++;
            continue;
        }
        if (p[1] == '/') { /* end tag */
            const char *name = p + 2;
            size_t n = strcspn(name, " \t\n>");
            if (depth == 0 || n != lens[depth - 1] || strncmp(name, stack[depth - 1], n) != 0) {
                snprintf(why, sizeof why, "unexpected </%.*s>", (int)n, name);
                return why;
            }
            depth--;
            p = strchr(name, '>');
            if (!p) return "unterminated end tag";
            p++;
            continue;
        }
        const char *name = p + 1;
        size_t n = strcspn(name, " \t\n/>");
        if (n == 0) return "empty tag name";
        if (depth == 0) {
            roots++;
            if (n != 3 || strncmp(name, "svg", 3) != 0) return "root element is not svg";
        }
        p = name + n;
        for (;;) { /* attributes */
            while (*p == ' ' || *p == '\n' || *p == '\t') p++;
            if (*p == '>' || (p[0] == '/' && p[1] == '>')) break;
            if (!*p) return "unterminated tag";
            const char *eq = strchr(p, '=');
            if (!eq || (eq[1] != '"' && eq[1] != '\'')) return "unquoted attribute";
            char q = eq[1];
            for (p = eq + 2; *p && *p != q; p++) {
                if (*p == '<') return "< in an attribute value";
                if (*p == '&' && !entity_ok(p)) return "bare & in an attribute value";
            }
            if (!*p) return "unterminated attribute value";
            p++;
        }
        if (*p == '/') {
            p += 2;
        } else {
            if (depth == LK_ARRAY_LEN(stack)) return "nesting too deep";
            stack[depth] = name;
            lens[depth++] = n;
            p++;
        }
    }
    if (depth) return "unclosed elements at the end";
    if (roots != 1) return "not exactly one root element";
    return NULL;
}

/* Parse with Python's xml.etree when python3 exists: 0 parsed, 1 failed, -1 no python3. */
static int python_parse(const char *svg) {
    if (system("command -v python3 >/dev/null 2>&1") != 0) return -1;
    char path[] = "/tmp/lk_svg_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(svg);
    assert_int_equal(write(fd, svg, n), (ssize_t)n);
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "python3 -c 'import sys, xml.etree.ElementTree as E; "
             "r = E.parse(sys.argv[1]).getroot(); sys.exit(r.tag != \"{http://www.w3.org/2000/svg}svg\")' %s",
             path);
    int rc = system(cmd);
    unlink(path);
    return rc == 0 ? 0 : 1;
}

static void assert_well_formed(const char *svg) {
    const char *why = xml_check(svg);
    if (why) fail_msg("not well-formed: %s", why);
    int py = python_parse(svg);
    if (py == 1) fail_msg("python's XML parser rejects the output");
}

static void assert_contains(const char *svg, const char *want) {
    if (!strstr(svg, want)) fail_msg("output lacks \"%s\"", want);
}

static size_t count(const char *s, const char *sub) {
    size_t n = 0;
    for (const char *p = s; (p = strstr(p, sub)); p += strlen(sub)) n++;
    return n;
}

static const char *const models[] = { "tinyllama", "qwen2.5-0.5b", "llama-3.2-1b", "phi-3-mini" };
static const double acc[] = { 0.31, 0.45, NAN, 0.52 };
static const double acc2[] = { 0.28, 0.40, 0.47, 0.50 };
static const double tps[] = { 120.5, 88.0, 61.2, 40.0 };

/* A two-panel chart (lines, then bars) used by several tests. */
static char *render_sample(void) {
    svg_series top[] = { { "accuracy (greedy)", acc }, { "accuracy (t=0.7)", acc2 } };
    svg_series bottom[] = { { "tokens/s", tps } };
    svg_panel panels[] = {
        { .title = "Accuracy", .y_label = "fraction correct", .series = top, .n_series = 2, .y_min = NAN, .y_max = NAN },
        { .title = "Speed", .y_label = "tokens/s", .series = bottom, .n_series = 1, .bars = true, .y_min = NAN,
          .y_max = NAN },
    };
    svg_chart c = { .title = "Eval report", .x_label = "model", .x_labels = models, .n_x = 4, .panels = panels,
                    .n_panels = 2 };
    lk_buf out = {0};
    svg_render(&c, &out);
    return out.data;
}

/* ---- tests ---- */

/* The output is a standalone, well-formed SVG 1.1 document. */
static void test_output_is_well_formed_svg(void **state) {
    (void)state;
    char *svg = render_sample();
    assert_well_formed(svg);
    assert_contains(svg, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    assert_contains(svg, "xmlns=\"http://www.w3.org/2000/svg\"");
    assert_contains(svg, "version=\"1.1\"");
    if (python_parse(svg) < 0) print_message("python3 not found: checked with the built-in checker only\n");
    free(svg);
}

/* Every series name, x label, panel title, axis label and the chart title appear. */
static void test_contains_names_and_labels(void **state) {
    (void)state;
    char *svg = render_sample();
    const char *want[] = { "accuracy (greedy)", "accuracy (t=0.7)", "tokens/s", "tinyllama", "qwen2.5-0.5b",
                           "llama-3.2-1b", "phi-3-mini", "Accuracy", "Speed", "fraction correct", "model",
                           "Eval report" };
    for (size_t i = 0; i < LK_ARRAY_LEN(want); i++) assert_contains(svg, want[i]);
    free(svg);
}

/* Special characters in every kind of text are escaped, never written raw. */
static void test_escapes_text(void **state) {
    (void)state;
    const char *labels[] = { "a<b", "x & y", "\"q\" 'r'" };
    double y[] = { 1, 2, 3 };
    svg_series s[] = { { "<script>&", y } };
    svg_panel p = { .title = "t<&>", .y_label = "y>0", .series = s, .n_series = 1, .y_min = NAN, .y_max = NAN };
    svg_chart c = { .title = "<&>", .x_label = "\"x\"", .x_labels = labels, .n_x = 3, .panels = &p, .n_panels = 1 };
    lk_buf out = {0};
    svg_render(&c, &out);
    assert_well_formed(out.data);
    assert_contains(out.data, "&lt;&amp;&gt;");
    assert_contains(out.data, "a&lt;b");
    assert_contains(out.data, "x &amp; y");
    assert_contains(out.data, "&quot;q&quot; &apos;r&apos;");
    assert_contains(out.data, "&lt;script&gt;&amp;");
    assert_null(strstr(out.data, "<script"));
    assert_null(strstr(out.data, "a<b"));
    lk_buf_free(&out);
}

/* Control characters are dropped and invalid UTF-8 replaced, so the document stays valid;
 * valid multi-byte characters pass through. */
static void test_bad_bytes_in_text(void **state) {
    (void)state;
    const char *labels[] = { "bell\a here", "bad \xC3\x28 utf8", "caf\xC3\xA9 \xE2\x9C\x93" };
    double y[] = { 1, 2, 3 };
    svg_series s[] = { { "nul-free\x01\x1F name", y } };
    svg_panel p = { .series = s, .n_series = 1, .y_min = NAN, .y_max = NAN };
    svg_chart c = { .x_labels = labels, .n_x = 3, .panels = &p, .n_panels = 1 };
    lk_buf out = {0};
    svg_render(&c, &out);
    assert_well_formed(out.data);
    assert_contains(out.data, "bell here");
    assert_contains(out.data, "bad \xEF\xBF\xBD( utf8");
    assert_contains(out.data, "caf\xC3\xA9 \xE2\x9C\x93");
    assert_contains(out.data, "nul-free name");
    lk_buf_free(&out);
}

/* A NAN breaks the line into two pieces and gets no marker: 3 markers for 4 values, and the
 * path moves twice. */
static void test_nan_is_a_gap(void **state) {
    (void)state;
    const char *labels[] = { "a", "b", "c", "d" };
    double y[] = { 1, NAN, 2, 3 };
    svg_series s[] = { { "gappy", y } };
    svg_panel p = { .series = s, .n_series = 1, .y_min = NAN, .y_max = NAN };
    svg_chart c = { .x_labels = labels, .n_x = 4, .panels = &p, .n_panels = 1 };
    lk_buf out = {0};
    svg_render(&c, &out);
    assert_well_formed(out.data);
    assert_int_equal(count(out.data, "<circle"), 3);
    const char *d = strstr(out.data, " d=\"M");
    assert_non_null(d);
    const char *end = strchr(d + 4, '"');
    size_t moves = 0;
    for (const char *q = d + 4; q < end; q++) moves += *q == 'M';
    assert_int_equal(moves, 2);
    lk_buf_free(&out);
}

/* A constant series, an all-NAN series and bars of zeros draw without dividing by zero: no
 * "nan" or "inf" anywhere, and the constant value gets an axis around it. */
static void test_constant_and_empty_series(void **state) {
    (void)state;
    const char *labels[] = { "a", "b", "c" };
    double flat[] = { 5, 5, 5 }, none[] = { NAN, NAN, NAN }, zeros[] = { 0, 0, 0 };
    svg_series s1[] = { { "flat", flat }, { "none", none } };
    svg_series s2[] = { { "zeros", zeros } };
    svg_panel p[] = { { .series = s1, .n_series = 2, .y_min = NAN, .y_max = NAN },
                      { .series = s2, .n_series = 1, .bars = true, .y_min = NAN, .y_max = NAN } };
    svg_chart c = { .x_labels = labels, .n_x = 3, .panels = p, .n_panels = 2 };
    lk_buf out = {0};
    svg_render(&c, &out);
    assert_well_formed(out.data);
    assert_null(strstr(out.data, "nan"));
    assert_null(strstr(out.data, "inf"));
    assert_contains(out.data, ">5.0</text>"); /* a tick at the constant value (axis 4.4 .. 5.6) */
    lk_buf_free(&out);
}

/* No panels and no x positions still give a valid (empty) document. */
static void test_empty_chart(void **state) {
    (void)state;
    svg_chart c = {0};
    lk_buf out = {0};
    svg_render(&c, &out);
    assert_well_formed(out.data);
    lk_buf_free(&out);
    svg_panel p = { .y_min = NAN, .y_max = NAN };
    svg_chart c2 = { .title = "nothing", .panels = &p, .n_panels = 1 };
    svg_render(&c2, &out);
    assert_well_formed(out.data);
    lk_buf_free(&out);
}

/* Long category labels are rotated; short ones are not. */
static void test_long_labels_rotate(void **state) {
    (void)state;
    const char *shorts[] = { "a", "b", "c" };
    const char *longs[] = { "a rather long model name number one", "another quite long model name",
                            "and a third long model name" };
    double y[] = { 1, 2, 3 };
    svg_series s[] = { { "s", y } };
    svg_panel p = { .series = s, .n_series = 1, .y_min = NAN, .y_max = NAN };
    svg_chart c = { .x_labels = shorts, .n_x = 3, .panels = &p, .n_panels = 1, .width = 400 };
    lk_buf out = {0};
    svg_render(&c, &out);
    assert_null(strstr(out.data, "rotate(-45)"));
    lk_buf_free(&out);
    c.x_labels = longs;
    svg_render(&c, &out);
    assert_well_formed(out.data);
    assert_int_equal(count(out.data, "rotate(-45)"), 3);
    lk_buf_free(&out);
}

/* A numeric x axis gets nice ticks of its own: x from 1 to 64 has labels 0, 10, ... 70. */
static void test_numeric_x_axis(void **state) {
    (void)state;
    double x[] = { 1, 2, 4, 8, 16, 32, 64 }, y[] = { 10, 19, 35, 60, 90, 110, 118 };
    svg_series s[] = { { "throughput", y } };
    svg_panel p = { .series = s, .n_series = 1, .y_min = 0, .y_max = NAN };
    svg_chart c = { .x_label = "concurrency", .x = x, .n_x = 7, .panels = &p, .n_panels = 1 };
    lk_buf out = {0};
    svg_render(&c, &out);
    assert_well_formed(out.data);
    assert_contains(out.data, ">0</text>");
    assert_contains(out.data, ">70</text>");
    assert_int_equal(count(out.data, "<circle"), 7);
    assert_contains(out.data, "throughput, 64: 118</title>");
    lk_buf_free(&out);
}

/* Series take the Okabe-Ito colours in order; the ninth reuses the first with a dashed line. */
static void test_palette_and_dashes(void **state) {
    (void)state;
    double y[] = { 1, 2 };
    svg_series s[9];
    char names[9][16];
    for (int i = 0; i < 9; i++) {
        snprintf(names[i], sizeof names[i], "s%d", i);
        s[i] = (svg_series){ names[i], y };
    }
    svg_panel p = { .series = s, .n_series = 9, .y_min = NAN, .y_max = NAN };
    const char *labels[] = { "a", "b" };
    svg_chart c = { .x_labels = labels, .n_x = 2, .panels = &p, .n_panels = 1 };
    lk_buf out = {0};
    svg_render(&c, &out);
    assert_well_formed(out.data);
    assert_contains(out.data, "stroke=\"#0072B2\"");
    assert_contains(out.data, "stroke=\"#D55E00\"");
    assert_contains(out.data, "stroke-dasharray=\"6 3\"");
    lk_buf_free(&out);
}

/* A fixed y range clips: a value above it gets no marker. */
static void test_fixed_range_clips(void **state) {
    (void)state;
    const char *labels[] = { "a", "b", "c" };
    double y[] = { 0.5, 7, 0.9 };
    svg_series s[] = { { "s", y } };
    svg_panel p = { .series = s, .n_series = 1, .y_min = 0, .y_max = 1 };
    svg_chart c = { .x_labels = labels, .n_x = 3, .panels = &p, .n_panels = 1 };
    lk_buf out = {0};
    svg_render(&c, &out);
    assert_well_formed(out.data);
    assert_int_equal(count(out.data, "<circle"), 2);
    assert_contains(out.data, "clip-path=\"url(#lkclip-");
    assert_contains(out.data, ">1.0</text>");
    lk_buf_free(&out);
}

/* Ticks are multiples of 1, 2 or 5 times a power of ten covering the range. */
static void test_nice_ticks(void **state) {
    (void)state;
    double t[SVG_MAX_TICKS], step;
    size_t n = svg_nice_ticks(0, 1, 5, t, &step);
    assert_int_equal(n, 6);
    assert_float_equal(step, 0.2, 1e-12);
    assert_float_equal(t[5], 1.0, 1e-12);

    n = svg_nice_ticks(0, 97, 5, t, &step);
    assert_float_equal(step, 20, 1e-12);
    assert_int_equal(n, 6);
    assert_float_equal(t[n - 1], 100, 1e-12);

    n = svg_nice_ticks(-3.7, 12.1, 4, t, &step);
    assert_float_equal(step, 5, 1e-12);
    assert_float_equal(t[0], -5, 1e-12);
    assert_float_equal(t[n - 1], 15, 1e-12);

    n = svg_nice_ticks(0.0012, 0.0049, 4, t, &step);
    assert_float_equal(step, 0.001, 1e-15);
    assert_float_equal(t[0], 0.001, 1e-15);
    assert_float_equal(t[n - 1], 0.005, 1e-15);

    n = svg_nice_ticks(1200, 98000, 5, t, &step);
    assert_float_equal(step, 20000, 1e-9);
    assert_float_equal(t[0], 0, 1e-9);
    assert_float_equal(t[n - 1], 100000, 1e-9);
}

/* Degenerate ranges: equal ends are widened, reversed ends swapped, non-finite ends give 0..1. */
static void test_nice_ticks_degenerate(void **state) {
    (void)state;
    double t[SVG_MAX_TICKS], step;
    size_t n = svg_nice_ticks(5, 5, 5, t, &step);
    assert_true(n >= 2 && t[0] < 5 && t[n - 1] > 5);
    n = svg_nice_ticks(0, 0, 5, t, &step);
    assert_float_equal(t[0], 0, 0);
    assert_float_equal(t[n - 1], 1, 1e-12);
    n = svg_nice_ticks(10, 0, 5, t, &step);
    assert_float_equal(t[0], 0, 0);
    assert_float_equal(t[n - 1], 10, 1e-12);
    n = svg_nice_ticks(NAN, INFINITY, 5, t, &step);
    assert_float_equal(t[0], 0, 0);
    assert_float_equal(t[n - 1], 1, 1e-12);
    n = svg_nice_ticks(-1e300, 1e300, 5, t, &step);
    assert_true(n >= 2 && n <= SVG_MAX_TICKS);
    n = svg_nice_ticks(1, 1 + 1e-13, 5, t, &step);
    assert_true(n >= 2 && n <= SVG_MAX_TICKS && t[0] <= 1 && t[n - 1] >= 1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output_is_well_formed_svg),
        cmocka_unit_test(test_contains_names_and_labels),
        cmocka_unit_test(test_escapes_text),
        cmocka_unit_test(test_bad_bytes_in_text),
        cmocka_unit_test(test_nan_is_a_gap),
        cmocka_unit_test(test_constant_and_empty_series),
        cmocka_unit_test(test_empty_chart),
        cmocka_unit_test(test_long_labels_rotate),
        cmocka_unit_test(test_numeric_x_axis),
        cmocka_unit_test(test_palette_and_dashes),
        cmocka_unit_test(test_fixed_range_clips),
        cmocka_unit_test(test_nice_ticks),
        cmocka_unit_test(test_nice_ticks_degenerate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
