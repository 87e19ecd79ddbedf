
/*
 * A minimal TAP producer for the C unit tests (prove reads it).
 */


#ifndef _NGX_HTTP_OTP_TAP_H_INCLUDED_
#define _NGX_HTTP_OTP_TAP_H_INCLUDED_


#include <stdio.h>
#include <string.h>


static int  tap_count;
static int  tap_failed;


#define tap_ok(cond, ...)                                                     \
    do {                                                                      \
        int  tap_ok_ = (cond) ? 1 : 0;                                        \
        printf("%sok %d - ", tap_ok_ ? "" : "not ", ++tap_count);             \
        printf(__VA_ARGS__);                                                  \
        printf("\n");                                                         \
        if (!tap_ok_) {                                                       \
            tap_failed++;                                                     \
            printf("#   failed at %s line %d\n", __FILE__, __LINE__);         \
        }                                                                     \
    } while (0)

#define tap_is_str(got, want, ...)                                            \
    do {                                                                      \
        const char  *tap_g_ = (got), *tap_w_ = (want);                        \
        tap_ok(tap_g_ != NULL && strcmp(tap_g_, tap_w_) == 0, __VA_ARGS__);   \
        if (tap_g_ == NULL || strcmp(tap_g_, tap_w_) != 0) {                  \
            printf("#          got: '%s'\n#     expected: '%s'\n",             \
                   tap_g_ ? tap_g_ : "(null)", tap_w_);                       \
        }                                                                     \
    } while (0)

#define tap_diag(...)                                                         \
    do { printf("# "); printf(__VA_ARGS__); printf("\n"); } while (0)

/* prints the plan at the end ("done_testing") and the exit status */
#define tap_done()                                                            \
    (printf("1..%d\n", tap_count), tap_failed ? 1 : 0)


#endif /* _NGX_HTTP_OTP_TAP_H_INCLUDED_ */
