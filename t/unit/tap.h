/*
 * tap.h: just enough of the Test Anything Protocol for the C unit tests,
 * which prove runs next to the Perl ones.
 */
#ifndef GW_TAP_H
#define GW_TAP_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_failed;

#define ok(cond, ...) do {						\
	int tap_c = (cond);						\
	printf("%sok %d - ", tap_c ? "" : "not ", ++tap_n);		\
	printf(__VA_ARGS__);						\
	printf("\n");							\
	if (!tap_c) {							\
		tap_failed++;						\
		printf("#   failed at %s line %d\n", __FILE__, __LINE__);	\
	}								\
} while (0)

/* Passes when got equals want to a relative (or, near 0, absolute) tol. */
#define is_near(got, want, tol, ...) do {				\
	double tap_g = (got), tap_w = (want);				\
	double tap_s = fabs(tap_w) > 1 ? fabs(tap_w) : 1;		\
	ok(fabs(tap_g - tap_w) <= (tol) * tap_s, __VA_ARGS__);		\
	if (!(fabs(tap_g - tap_w) <= (tol) * tap_s))			\
		printf("#   got %.17g, want %.17g\n", tap_g, tap_w);	\
} while (0)

static inline int
done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
