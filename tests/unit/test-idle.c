/* SPDX-License-Identifier: ISC */
/*
 * The activity list (src/lib/idle.c): least recently active first, and
 * idle_rest_next(), which hands out each entry quiet since a time once
 * until it is touched again.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "idle.h"
#include "tap.h"

#define N	5

/* The order of the list as the entries' indexes, e.g. "01234". */
static const char *
order(const struct idle_list *l, const struct idle_entry *v)
{
	static char		 s[N + 1];
	const struct idle_entry	*e;
	size_t			 i = 0;

	for (e = l->head; e != NULL && i < N; e = e->next)
		s[i++] = (char)('0' + (e - v));
	s[i] = '\0';
	return s;
}

/* The entries idle_rest_next() hands out for before, as "024". */
static const char *
rest_all(struct idle_list *l, const struct idle_entry *v, uint64_t before)
{
	static char		 s[N + 1];
	struct idle_entry	*e;
	size_t			 i = 0;

	while (i < N && (e = idle_rest_next(l, before)) != NULL)
		s[i++] = (char)('0' + (e - v));
	s[i] = '\0';
	return s;
}

static void
test_order(void)
{
	struct idle_list	 l = { 0 };
	struct idle_entry	 v[N];
	size_t			 i;

	for (i = 0; i < N; i++)
		idle_append(&l, &v[i], 10 + i);
	is(order(&l, v), "01234", "appended in order");
	idle_touch(&l, &v[1], 20);
	idle_touch(&l, &v[1], 21);	/* already last */
	is(order(&l, v), "02341", "touched ones go last");
	ok(v[1].active == 21, "and are active when touched");
	idle_unlink(&l, &v[0]);
	idle_unlink(&l, &v[1]);
	is(order(&l, v), "234", "unlinked");
	ok(l.tail == &v[4], "the last one is the tail");
}

static void
test_rest(void)
{
	struct idle_list	 l = { 0 };
	struct idle_entry	 v[N];
	size_t			 i;

	ok(idle_rest_next(&l, 100) == NULL && idle_unrested(&l) == NULL,
	    "an empty list: nothing to rest");
	for (i = 0; i < N; i++)
		idle_append(&l, &v[i], 10 + i);	/* active at 10..14 */
	is(rest_all(&l, v, 9), "", "none quiet since before 10");
	is(rest_all(&l, v, 12), "012", "those quiet since 12");
	is(rest_all(&l, v, 12), "", "each once");
	ok(idle_unrested(&l) == &v[3], "3 is the next to rest");

	/* touched: rested again later, behind the others */
	ok(!idle_touch(&l, &v[1], 30), "a touch while some are not rested");
	ok(idle_unrested(&l) == &v[3], "a rested one touched: 3 still next");
	is(rest_all(&l, v, 29), "34", "then 3 and 4, not 1");
	ok(idle_unrested(&l) == &v[1], "1 is the next to rest");
	is(rest_all(&l, v, 30), "1", "1, quiet since 30");
	ok(idle_unrested(&l) == NULL, "all rested");

	/* the newest, rested, touched where it is: rested again */
	ok(idle_touch(&l, &v[1], 40), "a touch when all were rested says so");
	ok(l.tail == &v[1] && idle_unrested(&l) == &v[1],
	    "the last one touched in place is to be rested again");
	is(rest_all(&l, v, 40), "1", "and is");

	/* the newest rested one unlinked: the one before is the mark */
	ok(idle_touch(&l, &v[0], 41), "all rested again: so says the touch");
	idle_unlink(&l, &v[1]);
	ok(idle_unrested(&l) == &v[0], "0 next after 1 is unlinked");
	is(rest_all(&l, v, 41), "0", "0, then nothing");
	idle_append(&l, &v[1], 50);
	ok(idle_unrested(&l) == &v[1], "appended: to be rested");
	while (l.head != NULL)
		idle_unlink(&l, l.head);
	ok(l.rested == NULL && idle_unrested(&l) == NULL,
	    "emptied: no mark left");
}

int
main(void)
{
	test_order();
	test_rest();
	return tap_done();
}
