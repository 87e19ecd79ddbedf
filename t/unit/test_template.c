
/*
 * Templates: escaping, sections, the size/render agreement and
 * truncation, the validator's errors and offsets, and the built-in
 * pages of html/ (well-formed, only known names, every value escaped,
 * the form fields of SPEC section 4).
 *
 * "test_template render FILE [name=value | name=@file] ..." prints FILE
 * rendered with those values instead (for looking at the pages).
 */


#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "ngx_http_otp_template.h"
#include "ngx_http_otp_lang.h"


#define VARS_MAX   64
#define OUT_MAX    65536


typedef struct {
    const char   *tpl;
    size_t        offset;
    const char   *reason;
} test_bad_t;


typedef struct {
    const char   *file;
    const char   *names;      /* every name the page may use */
    const char   *raw;        /* names it may use in {{{ }}} */
    const char   *needles;    /* "|"-separated, in the page set as below */
} test_page_t;


static ngx_http_otp_template_var_t  vars[VARS_MAX];
static size_t                       nvars;
static char                         out[OUT_MAX];


static void
set(const char *name, const char *value)
{
    if (nvars == VARS_MAX) {
        return;
    }

    vars[nvars].name = name;
    vars[nvars].name_len = strlen(name);
    vars[nvars].value = value;
    vars[nvars].value_len = value ? strlen(value) : 0;
    nvars++;
}


/* renders with the current vars; NULL if the sizes disagree */

static const char *
render(const char *tpl)
{
    size_t  len, n;

    len = ngx_http_otp_template_size(tpl, strlen(tpl), vars, nvars);
    if (len >= OUT_MAX) {
        return NULL;
    }

    memset(out, 0x5a, sizeof(out));

    n = ngx_http_otp_template_render(tpl, strlen(tpl), vars, nvars, out,
                                     len);
    if (n != len || out[len] != 0x5a) {
        return NULL;
    }

    out[len] = '\0';

    return out;
}


static const char *
printable(const char *s, size_t len)
{
    char          *p;
    size_t         i;
    static char    buf[160];

    p = buf;

    for (i = 0; i < len && p < buf + sizeof(buf) - 5; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7f) {
            *p++ = s[i];

        } else {
            p += sprintf(p, "\\x%02x", (unsigned char) s[i]);
        }
    }

    *p = '\0';

    return buf;
}


static void
test_render(void)
{
    nvars = 0;
    set("user", "alice");
    set("evil", "<a href=\"x\" title='y'>&amp;</a>");
    set("empty", "");
    set("null", NULL);
    set("one", "1");
    set("zero", "0");
    set("user", "shadowed");

    tap_is_str(render(""), "", "empty template");
    tap_is_str(render("plain { text } {x}"), "plain { text } {x}",
               "text without tags is copied");
    tap_is_str(render("hi {{user}}!"), "hi alice!", "value");
    tap_is_str(render("{{ user }}{{\tuser\t}}"), "alicealice",
               "spaces and tabs inside the braces");
    tap_is_str(render("{{evil}}"),
               "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;"
               "&amp;amp;&lt;/a&gt;",
               "& < > \" ' are escaped");
    tap_is_str(render("{{{evil}}}"), "<a href=\"x\" title='y'>&amp;</a>",
               "raw value is not escaped");
    tap_is_str(render("[{{nope}}{{{nope}}}{{null}}]"), "[]",
               "unknown and NULL values render empty");
    tap_is_str(render("{{#one}}yes{{/one}}{{^one}}no{{/one}}"), "yes",
               "section with a value");
    tap_is_str(render("{{#empty}}yes{{/empty}}{{^empty}}no{{/empty}}"),
               "no", "section with an empty value");
    tap_is_str(render("{{#nope}}yes{{/nope}}{{^nope}}no{{/nope}}"), "no",
               "section with an unknown name");
    tap_is_str(render("{{#null}}yes{{/null}}{{^null}}no{{/null}}"), "no",
               "section with a NULL value");
    tap_is_str(render("{{#zero}}yes{{/zero}}"), "yes",
               "\"0\" is a value like any other");
    tap_is_str(render("{{#one}}a{{#empty}}b{{#one}}c{{/one}}d{{/empty}}e"
                      "{{^empty}}f{{#user}}{{user}}{{/user}}{{/empty}}"
                      "{{/one}}"),
               "aefalice", "nested sections");
    tap_is_str(render("{{#empty}}{{#one}}{{/one}}x{{/empty}}y"), "y",
               "a rendered section inside a skipped one stays skipped");
    tap_is_str(render("a{{! a comment {with} braces }}b{{!}}c"), "abc",
               "comments");
    tap_is_str(render("{{{one}}}}"), "1}", "a brace after a raw tag");
    tap_is_str(render("{{one}}}"), "1}", "a brace after a tag");
    tap_is_str(render("{{user}}{{user}}"), "alicealice",
               "the first of two vars with one name wins");
}


static void
test_truncation(void)
{
    size_t       len, n, size;
    const char  *tpl;
    char         buf[64];

    nvars = 0;
    set("v", "<&>");

    tpl = "ab{{v}}cd{{{v}}}ef";
    len = ngx_http_otp_template_size(tpl, strlen(tpl), vars, nvars);
    tap_ok(len == 22, "size of \"%s\" is 22 (%zu)", tpl, len);

    n = 0;

    for (size = 0; size <= len + 1; size++) {
        memset(buf, '#', sizeof(buf));

        n = ngx_http_otp_template_render(tpl, strlen(tpl), vars, nvars,
                                         buf, size);

        if (n != len || buf[size] != '#'
            || memcmp(buf, "ab&lt;&amp;&gt;cd<&>ef", size < len ? size : len)
               != 0)
        {
            break;
        }
    }

    tap_ok(size == len + 2,
           "a short buffer gets a prefix, never a byte more (size %zu)",
           size);

    tap_ok(ngx_http_otp_template_render(tpl, strlen(tpl), vars, nvars,
                                        NULL, 100) == len,
           "NULL buffer only measures");

    n = ngx_http_otp_template_escape("a'b", 3, NULL);
    tap_ok(n == 7, "escape measures (%zu)", n);

    n = ngx_http_otp_template_escape("a'b\"", 4, buf);
    buf[n] = '\0';
    tap_is_str(buf, "a&#39;b&quot;", "escape writes");
}


static void
test_check(void)
{
    int                             rc;
    size_t                          i;
    ngx_http_otp_template_error_t   err;
    char                            deep[1024], *p;

    static const char  *good[] = {
        "",
        "no tags at all, { } }} {x}",
        "{{a}}{{{b}}}{{#c}}{{^d}}{{e}}{{/d}}{{/c}}",
        "{{ a }}{{{ b }}}{{# c }}{{/ c }}",
        "{{! comment with {{ braces }}",
        "{{a_b_9}}{{A}}",
        "}}{{a}}}"
    };

    static const test_bad_t  bad[] = {
        { "{{", 0, "tag is not terminated" },
        { "ab{{name", 2, "tag is not terminated" },
        { "ab{{name}", 2, "tag is not terminated" },
        { "{{{name}}", 0, "tag is not terminated" },
        { "x{{{name}}x", 1, "raw tag is not closed with \"}}}\"" },
        { "{{}}", 0, "tag has no name" },
        { "{{#}}", 0, "tag has no name" },
        { "{{ }}", 0, "tag has no name" },
        { "{{a b}}", 0, "invalid character in tag" },
        { "{{a-b}}", 0, "invalid character in tag" },
        { "{{a.b}}", 0, "invalid character in tag" },
        { "{{&a}}", 0, "invalid character in tag" },
        { "{{>partial}}", 0, "invalid character in tag" },
        { "{{a\n}}", 0, "invalid character in tag" },
        { "{{{{a}}}}", 0, "invalid character in tag" },
        { "{{!never closed }", 0, "comment is not terminated" },
        { "abc{{/a}}", 3, "closing tag without an open section" },
        { "{{#a}}{{/a}}{{/a}}", 12, "closing tag without an open section" },
        { "{{#a}}{{/b}}", 6, "closing tag does not match the open section" },
        { "{{#a}}{{#b}}{{/a}}{{/b}}", 12,
          "closing tag does not match the open section" },
        { "{{#a}}", 0, "section is not closed" },
        { "{{#a}}{{^b}}x{{/b}}", 0, "section is not closed" },
        { "{{#a}}{{^b}}x", 6, "section is not closed" }
    };

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        rc = ngx_http_otp_template_check(good[i], strlen(good[i]), &err);
        tap_ok(rc == 0, "valid: %s", printable(good[i], strlen(good[i])));
        if (rc != 0) {
            tap_diag("at %zu: %s", err.offset, err.reason);
        }
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err.offset = 9999;
        err.reason = "(none)";

        rc = ngx_http_otp_template_check(bad[i].tpl, strlen(bad[i].tpl),
                                         &err);

        tap_ok(rc == -1 && err.offset == bad[i].offset
               && strcmp(err.reason, bad[i].reason) == 0,
               "invalid: %s", printable(bad[i].tpl, strlen(bad[i].tpl)));

        if (rc != -1 || err.offset != bad[i].offset
            || strcmp(err.reason, bad[i].reason) != 0)
        {
            tap_diag("rc %d, at %zu: %s", rc, err.offset, err.reason);
        }
    }

    tap_ok(ngx_http_otp_template_check("{{", 2, NULL) == -1,
           "NULL error pointer is allowed");

    /* exactly the maximum depth, then one more */

    p = deep;
    for (i = 0; i < NGX_HTTP_OTP_TEMPLATE_MAX_DEPTH; i++) {
        p += sprintf(p, "{{#a}}");
    }
    for (i = 0; i < NGX_HTTP_OTP_TEMPLATE_MAX_DEPTH; i++) {
        p += sprintf(p, "{{/a}}");
    }

    tap_ok(ngx_http_otp_template_check(deep, strlen(deep), &err) == 0,
           "%d nested sections", NGX_HTTP_OTP_TEMPLATE_MAX_DEPTH);

    memmove(deep + 6, deep, strlen(deep) + 1);
    rc = ngx_http_otp_template_check(deep, strlen(deep), &err);
    tap_ok(rc == -1 && err.offset == 6 * NGX_HTTP_OTP_TEMPLATE_MAX_DEPTH
           && strstr(err.reason, "deeply") != NULL,
           "%d nested sections are too deep",
           NGX_HTTP_OTP_TEMPLATE_MAX_DEPTH + 1);
}


/* what an unchecked template does: defined enough, and bounded */

static void
test_malformed_render(void)
{
    size_t   i, n;
    char    *big;

    nvars = 0;
    set("a", "A");
    set("e", "");

    tap_is_str(render("x{{a"), "x{{a", "unterminated tag stays text");
    tap_is_str(render("{{{a}}x"), "{Ax",
               "raw tag with two braces: a brace, then a tag");
    tap_is_str(render("{{#e}}gone"), "", "unclosed section");
    tap_is_str(render("a{{/a}}b"), "ab", "stray closing tag");
    tap_is_str(render("a{{! no end {{a}}"), "a",
               "unterminated comment swallows the rest");

    /* a million nested sections: no recursion, no stack */

    n = 1000000;
    big = malloc(n * 12 + 1);
    if (big == NULL) {
        tap_ok(0, "malloc");
        return;
    }

    for (i = 0; i < n; i++) {
        memcpy(big + i * 6, "{{#e}}", 6);
        memcpy(big + n * 6 + i * 6, "{{/e}}", 6);
    }

    big[n * 12] = '\0';
    memcpy(big + n * 6 - 5, "a}}x{", 5);

    tap_is_str(render(big), "", "deeply nested sections render");

    free(big);
}


/* the pages */

static const test_page_t  pages[] = {

    { "challenge.html",
      "issuer user csrf return return_q method method_totp method_sms "
      "method_recovery numeric digits error has_totp has_sms has_recovery "
      "sms_sent sms_phone sms_first sms_wait recovery_left "
      "remember_device remember_days pass has_link account_url",
      "",
      "<html lang=\"en\">|<form method=\"post\" action=\"verify\""
      "|name=\"csrf\" value=\"CSRF&amp;1\""
      "|name=\"return\" value=\"/p?a=1&amp;b\""
      "|name=\"method\" value=\"totp\"|name=\"code\""
      "|autocomplete=\"one-time-code\""
      "|inputmode=\"numeric\"|pattern=\"[0-9]*\"|autofocus"
      "|name=\"remember\" value=\"1\"|30 days|role=\"alert\""
      "|challenge?method=recovery&amp;r=%2Fp%3Fa%3D1%26b"
      "|<form method=\"post\" action=\"sms\"|Text me a code"
      "|Password accepted for alice." },

    { "enroll.html",
      "issuer user account csrf return qr_svg otpauth_uri secret_grouped "
      "digits hotp error has_sms return_q add name account_url",
      "qr_svg",
      "<html lang=\"en\">|<svg|href=\"otpauth://totp/Ex:alice?secret=JBSW"
      "&amp;issuer=Ex\"|JBSW Y3DP|<form method=\"post\" action=\"enroll\""
      "|name=\"csrf\"|name=\"return\"|name=\"code\""
      "|autocomplete=\"one-time-code\"|inputmode=\"numeric\"|autofocus" },

    { "recovery.html",
      "issuer user codes_html codes_uri continue regenerated csrf return "
      "recovery_left none_left account_url",
      "codes_html",
      "<html lang=\"en\">|<ol><li>aaaa-bbbb</li></ol>|href=\"/p?a=1&amp;b\"" },

    { "sms.html",
      "issuer user csrf return phone error has_totp return_q",
      "",
      "<html lang=\"en\">|<form method=\"post\" action=\"sms\""
      "|name=\"csrf\"|name=\"return\"|name=\"phone\"|type=\"tel\""
      "|autocomplete=\"tel\"|placeholder=\"+15551234567\"|autofocus" },

    { "locked.html",
      "issuer user retry_minutes",
      "",
      "<html lang=\"en\">|15 minutes" },

    { "error.html",
      "issuer title message retry",
      "",
      "<html lang=\"en\">|href=\"/p?a=1&amp;b\"" },

    { "logout.html",
      "issuer user csrf trusted_device",
      "",
      "<html lang=\"en\">|<form method=\"post\" action=\"logout\""
      "|name=\"csrf\" value=\"CSRF&amp;1\"|Sign out"
      "|name=\"keep_device\" value=\"1\"" },

    { "link.html",
      "issuer user return_q pending url qr_svg number secs denied expired",
      "qr_svg",
      "<html lang=\"en\">|href=\"challenge?r=%2Fp%3Fa%3D1%26b\""
      "|Signed in as alice." },

    { "link_approve.html",
      "issuer user ask token csrf address agent time choice_a choice_b "
      "choice_c approved denied wrong",
      "",
      "<html lang=\"en\">" },

    { "account.html",
      "issuer user csrf return continue notice authenticators_html "
      "add_url has_sms phone phone_url has_recovery recovery_left "
      "recovery_url browsers sessions confirm_id",
      "authenticators_html",
      "<html lang=\"en\">|<form method=\"post\" action=\"account\""
      "|name=\"csrf\" value=\"CSRF&amp;1\"|name=\"action\"" }
};


typedef struct {
    const test_page_t  *page;
    int                 ok;
    char                bad[64];
} test_names_t;


static int
word_in(const char *list, const char *name, size_t len)
{
    const char  *p;

    for (p = list; *p != '\0'; p++) {
        if ((p == list || p[-1] == ' ')
            && strncmp(p, name, len) == 0
            && (p[len] == ' ' || p[len] == '\0'))
        {
            return 1;
        }
    }

    return 0;
}


static int
names_handler(void *data, int type, const char *name, size_t len)
{
    test_names_t  *tn = data;

    /*
     * html/style.css and html/countdown.js, which the module puts raw
     * into every page
     */

    if ((type == '{'
         && ((len == 5 && memcmp(name, "style", 5) == 0)
             || (len == 6 && memcmp(name, "script", 6) == 0)))
        || (type == 0 && len == 4 && memcmp(name, "lang", 4) == 0)
        || type == '@')
    {
        return 0;
    }

    if (!word_in(tn->page->names, name, len)
        || (type == '{' && !word_in(tn->page->raw, name, len)))
    {
        tn->ok = 0;
        snprintf(tn->bad, sizeof(tn->bad), "%c%.*s", type ? type : ' ',
                 (int) (len < 40 ? len : 40), name);
        return 1;
    }

    return 0;
}


static char *
read_file(const char *path, size_t *len)
{
    long   n;
    char  *buf;
    FILE  *f;

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }

    buf = NULL;

    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0
        && fseek(f, 0, SEEK_SET) == 0
        && (buf = malloc((size_t) n + 1)) != NULL)
    {
        if (fread(buf, 1, (size_t) n, f) != (size_t) n) {
            free(buf);
            buf = NULL;

        } else {
            buf[n] = '\0';
            *len = (size_t) n;
        }
    }

    fclose(f);

    return buf;
}


/*
 * The {{@key}} texts of a page template put in from the English message
 * file of its directory, as the module does; tpl is replaced.
 */

static char *
expand_en(char *tpl, size_t *len, const char *html_dir)
{
    char                     path[1024], *text, *out;
    size_t                   tlen, n, olen;
    ngx_http_otp_lang_msg_t  msgs[NGX_HTTP_OTP_LANG_MAX_MSGS];
    ngx_http_otp_lang_error_t  err;

    snprintf(path, sizeof(path), "%s/lang/en.txt", html_dir);

    text = read_file(path, &tlen);
    if (text == NULL
        || ngx_http_otp_lang_parse(text, tlen, msgs,
                                   NGX_HTTP_OTP_LANG_MAX_MSGS, &n, &err)
           != 0)
    {
        free(text);
        return tpl;
    }

    olen = ngx_http_otp_lang_expand(tpl, *len, msgs, n, NULL, 0);
    out = malloc(olen + 1);

    if (out != NULL) {
        ngx_http_otp_lang_expand(tpl, *len, msgs, n, out, olen + 1);
        out[olen] = '\0';
        *len = olen;
        free(tpl);
        tpl = out;
    }

    free(text);

    return tpl;
}


/*
 * Every name of the page set to value; with realistic, sample values of
 * the names that shape the page come first (the first of a name wins).
 * Raw names always get benign markup.
 */

static void
set_page_vars(const test_page_t *page, const char *value, int realistic)
{
    char         *n, *e;
    static char   names[1024];

    nvars = 0;

    set("lang", "en");
    set("qr_svg", "<svg viewBox=\"0 0 1 1\"></svg>");
    set("codes_html", "<ol><li>aaaa-bbbb</li></ol>");

    if (realistic) {
        set("user", "alice");
        set("error", "Wrong code");
        set("numeric", "1");
        set("method", "totp");
        set("method_totp", "1");
        set("csrf", "CSRF&1");
        set("return", "/p?a=1&b");
        set("return_q", "%2Fp%3Fa%3D1%26b");
        set("continue", "/p?a=1&b");
        set("retry", "/p?a=1&b");
        set("remember_device", "1");
        set("remember_days", "30");
        set("trusted_device", "1");
        set("recovery_left", "3");
        set("retry_minutes", "15");
        set("digits", "6");
        set("has_recovery", "1");
        set("has_sms", "1");
        set("otpauth_uri", "otpauth://totp/Ex:alice?secret=JBSW&issuer=Ex");
        set("secret_grouped", "JBSW Y3DP");
    }

    snprintf(names, sizeof(names), "%s", page->names);

    for (n = names; *n != '\0'; n = e) {
        e = strchr(n, ' ');
        if (e == NULL) {
            e = n + strlen(n);

        } else {
            *e++ = '\0';
        }

        if (*n != '\0') {
            set(n, value);
        }
    }
}


/*
 * What the CSP we send would block, or what a page must not fetch: no
 * script, no event handler, nothing from elsewhere.  And every visible
 * input has a label.
 */

static const char *
page_problem(const char *tpl)
{
    size_t       i, n;
    const char  *p, *e, *id;
    static char  want[128];

    static const char  *sanctioned = "<script>{{{script}}}</script>";

    static const char  *banned[] = {
        "<script", "javascript:", "http:", "https:", "//", "@import",
        "url(", "<iframe", "<object", "<embed", "<img", "<base", "src=",
        "stylesheet", "style="
    };

    static const char  *needed[] = {
        "<!DOCTYPE html>", "<html lang=\"",
        "<meta charset=\"utf-8\">",
        "<meta name=\"viewport\"", "<title>", "<h1>", "<main"
    };

    for (i = 0; i < sizeof(banned) / sizeof(banned[0]); i++) {
        for (p = tpl; (p = strstr(p, banned[i])) != NULL; p++) {

            /* but the built-in script, which the CSP allows by hash */

            if (strncmp(p, sanctioned, strlen(sanctioned)) != 0) {
                return banned[i];
            }
        }
    }

    for (i = 0; i < sizeof(needed) / sizeof(needed[0]); i++) {
        if (strstr(tpl, needed[i]) == NULL) {
            return needed[i];
        }
    }

    /* on...= anywhere inside a tag */

    for (p = tpl; (p = strstr(p, " on")) != NULL; p++) {
        for (e = p + 3; *e >= 'a' && *e <= 'z'; e++) { /* void */ }

        if (e > p + 3 && *e == '=') {
            return "an event handler attribute";
        }
    }

    for (p = tpl; (p = strstr(p, "<input ")) != NULL; p++) {
        e = strchr(p, '>');
        if (e == NULL) {
            return "an unterminated <input";
        }

        id = strstr(p, " id=\"");

        if (strstr(p, "type=\"hidden\"") != NULL
            && strstr(p, "type=\"hidden\"") < e)
        {
            continue;
        }

        if (id == NULL || id > e) {
            return "an input without id";
        }

        id += 5;
        n = strcspn(id, "\"");

        snprintf(want, sizeof(want), "<label for=\"%.*s\"", (int) n, id);

        if (strstr(tpl, want) == NULL) {
            return "an input without label";
        }
    }

    return NULL;
}


static void
test_pages(const char *top)
{
    int                             ok;
    char                            path[1024], needle[256];
    char                           *tpl;
    size_t                          i, len, n;
    const char                     *r, *p, *e;
    test_names_t                    tn;
    ngx_http_otp_template_error_t   err;

    for (i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {

        snprintf(path, sizeof(path), "%s/html/%s", top, pages[i].file);

        tpl = read_file(path, &len);
        if (tpl == NULL) {
            tap_ok(0, "%s: read %s", pages[i].file, path);
            continue;
        }

        tap_ok(ngx_http_otp_template_check(tpl, len, &err) == 0,
               "%s: well-formed", pages[i].file);

        r = page_problem(tpl);
        tap_ok(r == NULL, "%s: self-contained, labelled%s%s",
               pages[i].file, r ? ", not: " : "", r ? r : "");

        tn.page = &pages[i];
        tn.ok = 1;
        tn.bad[0] = '\0';

        ngx_http_otp_template_names(tpl, len, names_handler, &tn);

        tap_ok(tn.ok, "%s: only names of its contract%s%s", pages[i].file,
               tn.ok ? "" : ", not ", tn.bad);

        snprintf(path, sizeof(path), "%s/html", top);
        tpl = expand_en(tpl, &len, path);

        /* a value that must never appear unescaped */

        set_page_vars(&pages[i], "<b>\"x'&", 0);

        n = ngx_http_otp_template_size(tpl, len, vars, nvars);
        r = (n < OUT_MAX) ? render(tpl) : NULL;

        tap_ok(r != NULL && strstr(r, "<b>") == NULL
               && strstr(r, "\"x'") == NULL
               && strstr(r, "&lt;b&gt;&quot;x&#39;&amp;") != NULL,
               "%s: every value is escaped", pages[i].file);

        /* the form contract */

        set_page_vars(&pages[i], "", 1);

        r = render(tpl);

        ok = (r != NULL);

        for (p = pages[i].needles; ok && *p != '\0'; p = *e ? e + 1 : e) {
            e = strchr(p, '|');
            if (e == NULL) {
                e = p + strlen(p);
            }

            snprintf(needle, sizeof(needle), "%.*s", (int) (e - p), p);

            if (strstr(r, needle) == NULL) {
                ok = 0;
                tap_diag("missing: %s", needle);
            }
        }

        tap_ok(ok, "%s: has the fields of its contract", pages[i].file);

        free(tpl);
    }
}


static void
test_challenge_variants(const char *top)
{
    char         path[1024];
    char        *tpl;
    size_t       len;
    const char  *r;

    snprintf(path, sizeof(path), "%s/html/challenge.html", top);

    tpl = read_file(path, &len);
    if (tpl == NULL) {
        tap_ok(0, "read %s", path);
        return;
    }

    snprintf(path, sizeof(path), "%s/html", top);
    tpl = expand_en(tpl, &len, path);

    nvars = 0;
    set("method", "recovery");
    set("method_recovery", "1");
    set("has_totp", "1");
    set("has_recovery", "1");
    set("recovery_left", "2");
    set("csrf", "c");
    set("return", "/");
    set("return_q", "%2F");

    r = render(tpl);
    tap_ok(r != NULL && strstr(r, "inputmode=\"numeric\"") == NULL
           && strstr(r, "pattern=") == NULL
           && strstr(r, "name=\"method\" value=\"recovery\"") != NULL
           && strstr(r, "name=\"remember\"") == NULL
           && strstr(r, "action=\"sms\"") == NULL
           && strstr(r, "role=\"alert\"") == NULL
           && strstr(r, "Recovery codes left: 2") != NULL,
           "challenge: recovery code is not numeric, no remember, "
           "no sms, no error");
    tap_ok(r != NULL && strstr(r, "challenge?method=recovery") == NULL
           && strstr(r, "challenge?method=totp&amp;r=%2F") != NULL,
           "challenge: on recovery, a way back to the authenticator");

    nvars = 0;
    set("method", "sms");
    set("method_sms", "1");
    set("numeric", "1");
    set("has_sms", "1");
    set("sms_sent", "1");
    set("sms_phone", "+1555***0123");
    set("sms_wait", "25");

    r = render(tpl);
    tap_ok(r != NULL && strstr(r, "+1555***0123") != NULL
           && strstr(r, "<span>25</span> s") != NULL
           && strstr(r, "data-wait=\"25\"") != NULL
           && strstr(r, "Send a new code") != NULL
           && strstr(r, "Text me a code") == NULL,
           "challenge: sms sent, with cooldown");

    free(tpl);
}


static int
render_main(int argc, char **argv)
{
    int                             i;
    char                           *tpl, *v, *eq;
    size_t                          len, n;
    ngx_http_otp_template_error_t   err;

    tpl = read_file(argv[2], &len);
    if (tpl == NULL) {
        perror(argv[2]);
        return 2;
    }

    {
        char  dir[1024], *slash;

        snprintf(dir, sizeof(dir), "%s", argv[2]);
        slash = strrchr(dir, '/');
        if (slash != NULL) {
            *slash = '\0';
            tpl = expand_en(tpl, &len, dir);
        }
    }

    if (ngx_http_otp_template_check(tpl, len, &err) != 0) {
        fprintf(stderr, "%s: at %zu: %s\n", argv[2], err.offset,
                err.reason);
        return 1;
    }

    nvars = 0;

    for (i = 3; i < argc && nvars < VARS_MAX; i++) {
        eq = strchr(argv[i], '=');
        if (eq == NULL) {
            continue;
        }

        *eq++ = '\0';
        v = eq;

        if (*v == '@') {
            v = read_file(v + 1, &n);
            if (v == NULL) {
                perror(eq + 1);
                return 2;
            }
        }

        set(argv[i], v);
    }

    n = ngx_http_otp_template_size(tpl, len, vars, nvars);
    v = malloc(n + 1);
    if (v == NULL) {
        return 2;
    }

    fwrite(v, 1, ngx_http_otp_template_render(tpl, len, vars, nvars, v, n),
           stdout);

    return 0;
}


/* strict UTF-8, and client text cleaned for a page */

static void
test_utf8(void)
{
    size_t          i, n;
    char            out[16];
    unsigned long   c;

    static const struct {
        const char  *in;
        size_t       len;
        const char  *why;
    } bad[] = {
        { "\xc3\xc3", 2, "a lead byte as a continuation" },
        { "\xc3", 1, "a cut character" },
        { "\xe2\x82", 2, "a cut three-byte character" },
        { "\xc0\x80", 2, "an overlong NUL" },
        { "\xe0\x80\xaf", 3, "an overlong slash" },
        { "\xed\xa0\x80", 3, "a surrogate" },
        { "\xf4\x90\x80\x80", 4, "beyond U+10FFFF" },
        { "\xf8\x88\x80\x80", 4, "a five-byte lead" },
        { "\x80", 1, "a lone continuation" }
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        n = ngx_http_otp_utf8_char((const unsigned char *) bad[i].in,
                                   bad[i].len, &c);
        tap_ok(n == 0, "utf8_char refuses %s", bad[i].why);
    }

    n = ngx_http_otp_utf8_char((const unsigned char *) "\xf0\x9f\x93\xb1",
                               4, &c);
    tap_ok(n == 4 && c == 0x1f4f1, "utf8_char reads U+1F4F1");

    n = ngx_http_otp_utf8_char((const unsigned char *) "\xc3\xa9", 2, &c);
    tap_ok(n == 2 && c == 0xe9, "utf8_char reads U+00E9");

    n = ngx_http_otp_utf8_clean("a\x01" "b\x1b[" "\xc2\x85" "c\xc3", 9, 16,
                                out);
    out[n] = '\0';
    tap_is_str(out, "ab[c", "utf8_clean drops controls and broken bytes");

    n = ngx_http_otp_utf8_clean("abc\xc3\xa9", 5, 4, out);
    out[n] = '\0';
    tap_is_str(out, "abc", "utf8_clean cuts before a whole character");
}


int
main(int argc, char **argv)
{
    const char  *top;

    if (argc >= 3 && strcmp(argv[1], "render") == 0) {
        return render_main(argc, argv);
    }

    top = getenv("OTP_TOP");
    if (top == NULL || *top == '\0') {
        top = ".";
    }

    test_render();
    test_truncation();
    test_check();
    test_utf8();
    test_malformed_render();
    test_pages(top);
    test_challenge_variants(top);

    return tap_done();
}
