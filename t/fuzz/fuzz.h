
/*
 * Shared by the libFuzzer targets: a property that fails aborts, so
 * libFuzzer keeps the input as a crash.
 */


#ifndef _NGX_HTTP_OTP_FUZZ_H_INCLUDED_
#define _NGX_HTTP_OTP_FUZZ_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>


#define fuzz_assert(cond)                                                     \
    do {                                                                      \
        if (!(cond)) {                                                        \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                         \
            abort();                                                          \
        }                                                                     \
    } while (0)


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


#endif /* _NGX_HTTP_OTP_FUZZ_H_INCLUDED_ */
