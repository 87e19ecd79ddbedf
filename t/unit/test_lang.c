
/*
 * Message files (ngx_http_otp_lang.c): parsing and its errors, the
 * check of a language against English (missing key, other or missing
 * placeholders, an unknown key), the lookup by key and by English text,
 * and the expansion of {{@key}}: the text escaped, its placeholders
 * turned into tags that the rendering fills in, escaped too.
 */


#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "ngx_http_otp_lang.h"
#include "ngx_http_otp_template.h"


#define MAX  16


static ngx_http_otp_lang_msg_t    en[MAX], xx[MAX];
static size_t                     nen, nxx;
static ngx_http_otp_lang_error_t  err;


static int
parse(const char *text, ngx_http_otp_lang_msg_t *msgs, size_t *n)
{
    return ngx_http_otp_lang_parse(text, strlen(text), msgs, MAX, n, &err);
}


static const char *
expand(const char *tpl, ngx_http_otp_template_var_t *vars, size_t nvars)
{
    size_t       n;
    static char  mid[1024], out[1024];

    n = ngx_http_otp_lang_expand(tpl, strlen(tpl), en, nen, mid,
                                 sizeof(mid));
    if (n >= sizeof(mid)) {
        return NULL;
    }

    mid[n] = '\0';

    if (vars == NULL) {
        return mid;
    }

    n = ngx_http_otp_template_render(mid, n, vars, nvars, out, sizeof(out));
    if (n >= sizeof(out)) {
        return NULL;
    }

    out[n] = '\0';

    return out;
}


static void
test_parse(void)
{
    tap_ok(parse("# a comment\n\n  a_1 = One thing  \r\n"
                 "b=Hello, {user}!\n", en, &nen) == 0 && nen == 2,
           "two texts, a comment, blank lines, CRLF");
    tap_ok(nen == 2 && en[0].key_len == 3
           && memcmp(en[0].value, "One thing", en[0].value_len) == 0
           && en[0].value_len == 9,
           "the text without the blanks around it");

    tap_ok(parse("a = x\nb\n", xx, &nxx) != 0 && err.line == 2,
           "a line without \"=\": refused, line 2");
    tap_ok(parse("A = x\n", xx, &nxx) != 0 && err.line == 1,
           "an upper-case key: refused");
    tap_ok(parse("a = \n", xx, &nxx) != 0, "an empty text: refused");
    tap_ok(parse("a = x {user\n", xx, &nxx) != 0
           && err.key_len == 1 && err.key[0] == 'a',
           "an unclosed placeholder: refused, naming the key");
    tap_ok(parse("a = x } y\n", xx, &nxx) != 0, "a lone \"}\": refused");
    tap_ok(parse("a = {User}\n", xx, &nxx) != 0,
           "a placeholder with an upper-case name: refused");
    tap_ok(parse("a = {}\n", xx, &nxx) != 0, "an empty placeholder: refused");
    tap_ok(parse("a = x\na = y\n", xx, &nxx) != 0, "a key twice: refused");
}


static void
test_check(void)
{
    (void) parse("a = One\nb = Hello, {user}, {n}!\n", en, &nen);

    tap_ok(parse("b = {n} {user} hallo\na = Eins\n", xx, &nxx) == 0
           && ngx_http_otp_lang_check(xx, nxx, en, nen, &err) == 0,
           "every key, the placeholders in another order: fine");

    (void) parse("a = Eins\n", xx, &nxx);
    tap_ok(ngx_http_otp_lang_check(xx, nxx, en, nen, &err) != 0
           && err.key_len == 1 && err.key[0] == 'b'
           && strstr(err.reason, "missing") != NULL,
           "a missing key: named");

    (void) parse("a = Eins\nb = Hallo {user}\n", xx, &nxx);
    tap_ok(ngx_http_otp_lang_check(xx, nxx, en, nen, &err) != 0
           && err.name_len == 1 && err.name[0] == 'n',
           "a placeholder of English missing: named");

    (void) parse("a = Eins {user}\nb = Hallo {user} {n}\n", xx, &nxx);
    tap_ok(ngx_http_otp_lang_check(xx, nxx, en, nen, &err) != 0
           && err.key[0] == 'a' && err.name_len == 4,
           "a placeholder English lacks: named, with its key");

    (void) parse("a = Eins\nb = {user}{n}\nc = extra\n", xx, &nxx);
    tap_ok(ngx_http_otp_lang_check(xx, nxx, en, nen, &err) != 0
           && err.key[0] == 'c',
           "a key English lacks: named");
}


static void
test_find(void)
{
    const ngx_http_otp_lang_msg_t  *m;

    (void) parse("a = One\nb = Hello, {user}!\n", en, &nen);

    m = ngx_http_otp_lang_find(en, nen, "b", 1);
    tap_ok(m != NULL && m->value[0] == 'H', "by key");
    tap_ok(ngx_http_otp_lang_find(en, nen, "c", 1) == NULL, "no such key");

    m = ngx_http_otp_lang_find_text(en, nen, "One", 3);
    tap_ok(m != NULL && m->key[0] == 'a', "by English text");
    tap_ok(ngx_http_otp_lang_find_text(en, nen, "On", 2) == NULL,
           "a text must match whole");
}


static void
test_expand(void)
{
    ngx_http_otp_template_var_t  vars[1] = {
        { "user", 4, "<b>\"x'&", 7 }
    };

    (void) parse("t = Tom & \"Jerry\" <3 'x'\n"
                 "u = Hello, {user}.\n", en, &nen);

    tap_is_str(expand("<p>{{@t}}</p>", NULL, 0),
               "<p>Tom &amp; &quot;Jerry&quot; &lt;3 &#39;x&#39;</p>",
               "a text is escaped");
    tap_is_str(expand("{{@u}}", NULL, 0), "Hello, {{user}}.",
               "a placeholder becomes a tag");
    tap_is_str(expand("{{@u}}", vars, 1),
               "Hello, &lt;b&gt;&quot;x&#39;&amp;.",
               "... which the rendering fills in, escaped");
    tap_is_str(expand("[{{@nope}}]", NULL, 0), "[]",
               "an unknown key: nothing");
    tap_is_str(expand("{{! {{@t}} }}{{#x}}{{@t}}{{/x}}{{{y}}}", NULL, 0),
               "{{! {{@t}} }}{{#x}}Tom &amp; &quot;Jerry&quot; &lt;3 "
               "&#39;x&#39;{{/x}}{{{y}}}",
               "comments and other tags stay as they are");
    tap_is_str(expand("a {{@t", NULL, 0), "a {{@t",
               "an unterminated tag stays as it is");
}


int
main(void)
{
    test_parse();
    test_check();
    test_find();
    test_expand();

    return tap_done();
}
