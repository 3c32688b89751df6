/* SPDX-License-Identifier: ISC */
/*
 * Answers (src/lib/answer.c): the reply a message gets through the rule
 * set, with its terminator, close, delay and cycling decisions; the
 * notices a listener sends (greeting, too long, refused); and cycling
 * counters that start again when the rule set is replaced.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "answer.h"
#include "buf.h"
#include "config.h"
#include "frame.h"
#include "rules.h"
#include "template.h"
#include "fixture.h"
#include "tap.h"

static unsigned int	 fill_calls, fill_needs;

static void
fill(struct template_ctx *ctx, unsigned int needs, void *arg)
{
	fill_calls++;
	fill_needs |= needs;
	*(int *)arg += 1;
	if (needs & TEMPLATE_NEED_SERVER) {
		ctx->server_address = "198.51.100.1";
		ctx->server_port = 13008;
	}
	if (needs & TEMPLATE_NEED_TIME)
		ctx->now_usec = 1700000000000000ULL;
}

/* A client of the top level's service, on its first message. */
static void
env_init(struct answer_env *env, const struct conf *c,
    const struct sockaddr *peer)
{
	memset(env, 0, sizeof(*env));
	env->conf = c;
	env->svc = &c->service;
	env->client = peer;
	env->client_address = "192.0.2.7";
	env->client_port = 40000;
	env->listener = "main";
	env->hostname = "box";
	env->message_number = 1;
	env->connections = 1;
	env->fill = fill;
}

/* Answers msg; out gets the bytes, res the decision. */
static int
build(const struct conf *c, const char *msg, size_t len, const char *term,
    const struct sockaddr *peer, struct answer_cycle *cycle, struct buf *out,
    struct answer *res)
{
	struct answer_env	 env;
	struct frame_msg	 m;
	unsigned int		 before = fill_calls;
	int			 arg = 0, r;

	env_init(&env, c, peer);
	env.fill_arg = &arg;
	m.data = msg;
	m.len = len;
	m.term = term;
	m.term_len = strlen(term);
	out->len = 0;
	r = answer_message(&env, &m, cycle, out, res);
	if ((unsigned int)arg != fill_calls - before) {
		printf("#   fill arg not passed through\n");
		return -1001;
	}
	return r;
}

/* A cycling counter, or UINT32_MAX when there are none. */
static uint32_t
count(const struct answer_cycle *cycle, size_t slot)
{
	return cycle->v != NULL ? cycle->v[slot] : UINT32_MAX;
}

static struct conf *
conf_new(void)
{
	struct conf	*c;

	if ((c = config_default()) == NULL) {
		printf("Bail out! config_default\n");
		exit(99);
	}
	rules_free(c->rules);
	c->rules = rules_new();
	return c;
}

static void
test_message(void)
{
	static const char *const cyc[] = { "one", "two", "three" };
	static const char *const cyc2[] = { "x%{message}", "y%{message}" };
	static const char *const caps[] = {
		"%{2} of %{1} (%{0}) [%{3}] %{rule}"
	};
	static const char *const who[] = { "%{rule} %{listener} %{client_address}" };
	static const char *const srv[] = { "at %{server_address}:%{server_port}" };
	static const char *const tim[] = { "t=%{unix_time}" };
	static const char *const lan[] = { "10.0.0.0/8" };
	struct opts		 ocyc = { .replies = cyc, .nreplies = 3 };
	struct opts		 ocyc2 = { .replies = cyc2, .nreplies = 2 };
	struct opts		 ocaps = { .replies = caps, .nreplies = 1 };
	struct opts		 owho = { .replies = who, .nreplies = 1 };
	struct opts		 osrv = { .replies = srv, .nreplies = 1 };
	struct opts		 otim = { .replies = tim, .nreplies = 1 };
	struct opts		 osilent = { .no_reply = true, .close = true,
				    .delay_ms = 250 };
	struct opts		 oclose = { .close = true };
	struct opts		 odelay = { .delay_ms = 1500 };
	struct opts		 olan = { .nets = lan, .nnets = 1 };
	struct conf		*c = conf_new();
	struct sockaddr_storage	 ss;
	struct answer		 res;
	struct buf		 out = { 0 };
	struct answer_cycle	 cycle = { 0 }, cyclebis = { 0 };
	const char		*want[] = { "one\n", "two\n", "three\n", "one\n",
				    "two\n" };
	int			 i, r;

	add_rule(c->rules, "silent", RULES_EXACT, "quiet", false, &osilent);
	add_rule(c->rules, "bye", RULES_EXACT, "bye", true, &oclose);
	add_rule(c->rules, "slow", RULES_PREFIX, "slow", false, &odelay);
	add_rule(c->rules, "cycle", RULES_EXACT, "next", false, &ocyc);
	add_rule(c->rules, "cycle2", RULES_PREFIX, "other", false, &ocyc2);
	add_rule(c->rules, "get", RULES_REGEX,
	    "^GET /([a-z]+)/([0-9]+)( x)?$", false, &ocaps);
	add_rule(c->rules, NULL, RULES_EXACT, "who", false, &owho);
	add_rule(c->rules, "lan", RULES_EXACT, "lan", false, &olan);
	add_rule(c->rules, "srv", RULES_EXACT, "srv", false, &osrv);
	add_rule(c->rules, "time", RULES_EXACT, "time", false, &otim);

	/* the default: echo, with the message's own terminator */
	r = build(c, LIT("hello"), "\n", NULL, NULL, &out, &res);
	ok(r == 0 && res.rule == NULL && !res.silent && !res.close &&
	    res.delay_ms == 0 && res.choice == 0, "default reply decision");
	ok(res.rule_label == NULL, "the default has no rule label");
	ok_bytes(out.data, out.len, "hello\n", "default echo with LF");
	build(c, LIT("hello"), "\r\n", NULL, NULL, &out, &res);
	ok_bytes(out.data, out.len, "hello\r\n", "default echo with CRLF");
	build(c, LIT("raw"), "", NULL, NULL, &out, &res);
	ok_bytes(out.data, out.len, "raw", "default echo, raw framing");
	build(c, LIT(""), "\n", NULL, NULL, &out, &res);
	ok_bytes(out.data, out.len, "\n", "empty message echoed");
	r = build(c, LIT("a\0b"), "\n", NULL, NULL, &out, &res);
	ok(r == 0 && out.len == 4 && memcmp(out.data, "a\0b\n", 4) == 0,
	    "NUL bytes echoed");
	/* appends: what is already in out stays */
	{
		struct answer_env	 env = { .conf = c, .svc = &c->service,
					    .client_address = "x" };
		struct frame_msg	 m = { "tail", 4, "\n", 1 };

		out.len = 0;
		buf_append(&out, "head:", 5);
		answer_message(&env, &m, NULL, &out, &res);
		ok_bytes(out.data, out.len, "head:tail\n",
		    "answer_message appends to out");
	}

	/* silent: no bytes at all, not even the terminator */
	r = build(c, LIT("quiet"), "\n", NULL, NULL, &out, &res);
	ok(r == 0 && res.silent && res.rule != NULL &&
	    strcmp(res.rule->name, "silent") == 0, "no_reply rule is silent");
	ok(res.rule_label != NULL && strcmp(res.rule_label, "silent") == 0,
	    "labelled by its name");
	ok(out.len == 0, "silent rule writes nothing (%zu bytes)", out.len);
	ok(res.close && res.delay_ms == 250, "silent rule keeps close and "
	    "delay");

	r = build(c, LIT("BYE"), "\r\n", NULL, NULL, &out, &res);
	ok(r == 0 && res.close && !res.silent && res.delay_ms == 0,
	    "close rule");
	ok_bytes(out.data, out.len, "bye\r\n", "close rule still replies");

	r = build(c, LIT("slowly"), "\n", NULL, NULL, &out, &res);
	ok(r == 0 && res.delay_ms == 1500 && !res.close && !res.silent,
	    "delay rule");
	ok_bytes(out.data, out.len, "slow\n", "delayed reply rendered now");

	/* close_after_reply closes after every reply, default or rule */
	c->service.close_after_reply = true;
	build(c, LIT("x"), "\n", NULL, NULL, &out, &res);
	ok(res.close && res.rule == NULL, "close_after_reply: default");
	build(c, LIT("slow"), "\n", NULL, NULL, &out, &res);
	ok(res.close && res.delay_ms == 1500, "close_after_reply: rule");
	c->service.close_after_reply = false;

	/* cycling replies, per connection */
	ok(rules_cycle_slots(c->rules) == 2, "two cycling rules");
	for (i = 0; i < 5; i++) {
		build(c, LIT("next"), "\n", NULL, &cycle, &out, &res);
		ok_bytes(out.data, out.len, want[i], "cycling reply %d", i + 1);
		ok(res.choice == (size_t)(i % 3), "choice %d is %d (%zu)",
		    i + 1, i % 3, res.choice);
	}
	build(c, LIT("next"), "\n", NULL, &cyclebis, &out, &res);
	ok_bytes(out.data, out.len, "one\n",
	    "another connection starts at the first reply");
	build(c, LIT("other"), "\n", NULL, &cycle, &out, &res);
	ok_bytes(out.data, out.len, "xother\n",
	    "a second cycling rule has its own counter");
	build(c, LIT("other2"), "\n", NULL, &cycle, &out, &res);
	ok_bytes(out.data, out.len, "yother2\n", "second rule, second reply");
	build(c, LIT("next"), "\n", NULL, &cycle, &out, &res);
	ok_bytes(out.data, out.len, "three\n",
	    "first rule's counter unaffected by the second");
	ok(count(&cycle, 0) == 6 && count(&cycle, 1) == 2 &&
	    count(&cyclebis, 0) == 1 && count(&cyclebis, 1) == 0,
	    "counters %u %u %u %u", count(&cycle, 0), count(&cycle, 1),
	    count(&cyclebis, 0), count(&cyclebis, 1));
	build(c, LIT("next"), "\n", NULL, NULL, &out, &res);
	ok_bytes(out.data, out.len, "one\n", "no counters: the first reply");
	build(c, LIT("next"), "\n", NULL, NULL, &out, &res);
	ok_bytes(out.data, out.len, "one\n", "no counters: still the first");

	/* captures */
	build(c, LIT("GET /users/42"), "\n", NULL, NULL, &out, &res);
	ok_bytes(out.data, out.len, "42 of users (GET /users/42) [] get\n",
	    "captures rendered; a group that took no part is empty");
	build(c, LIT("GET /users/42 x"), "\r\n", NULL, NULL, &out, &res);
	ok_bytes(out.data, out.len,
	    "42 of users (GET /users/42 x) [ x] get\r\n", "all groups");
	build(c, LIT("GET /Users/42"), "\n", NULL, NULL, &out, &res);
	ok(res.rule == NULL, "regex is case-sensitive without ignore_case");

	/* an unnamed rule is #N in %{rule} and in labels */
	build(c, LIT("who"), "\n", NULL, NULL, &out, &res);
	ok_bytes(out.data, out.len, "#7 main 192.0.2.7\n",
	    "unnamed rule renders as its number");
	is(answer_rule_label(res.rule), "#7", "label of an unnamed rule");
	ok(res.rule_label != NULL && strcmp(res.rule_label, "#7") == 0,
	    "the answer carries it");
	is(answer_rule_label(rules_get(c->rules, 1)), "bye",
	    "label of a named rule");
	is(answer_rule_label(NULL), "default", "label of the default");

	/* networks through the client of the env */
	build(c, LIT("lan"), "\n", peer4(&ss, "10.9.8.7"), NULL, &out, &res);
	ok_bytes(out.data, out.len, "lan\n", "network rule for its client");
	build(c, LIT("lan"), "\n", peer4(&ss, "11.9.8.7"), NULL, &out, &res);
	ok(res.rule == NULL, "network rule: another client gets the default");
	ok_bytes(out.data, out.len, "lan\n", "which echoes");

	/* costly parts filled only when the template needs them */
	fill_calls = fill_needs = 0;
	build(c, LIT("who"), "\n", NULL, NULL, &out, &res);
	build(c, LIT("x"), "\n", NULL, NULL, &out, &res);
	ok(fill_calls == 0, "no fill for cheap templates (%u)", fill_calls);
	build(c, LIT("srv"), "\n", NULL, NULL, &out, &res);
	ok(fill_calls == 1 && fill_needs == TEMPLATE_NEED_SERVER,
	    "fill asked for the server");
	ok_bytes(out.data, out.len, "at 198.51.100.1:13008\n", "server vars");
	fill_calls = fill_needs = 0;
	build(c, LIT("time"), "\n", NULL, NULL, &out, &res);
	ok(fill_calls == 1 && fill_needs == TEMPLATE_NEED_TIME,
	    "fill asked for the time");
	ok_bytes(out.data, out.len, "t=1700000000\n", "time var");

	/* the default_reply template is the conf's */
	template_free(c->service.default_reply);
	c->service.default_reply =
	    tpl("[%{rule}] %{message} #%{message_number}");
	build(c, LIT("zz"), "\n", NULL, NULL, &out, &res);
	ok_bytes(out.data, out.len, "[default] zz #1\n",
	    "default_reply template");
	ok(c->service.max_message_bytes == 8192, "default max_message_bytes");

	/* the listener's service decides, not the top level's */
	{
		struct conf_service	 svc = c->service;
		struct answer_env	 env;
		struct frame_msg	 m = { "zz", 2, "\n", 1 };

		env_init(&env, c, NULL);
		svc.default_reply = tpl("svc %{message}");
		svc.close_after_reply = true;
		env.svc = &svc;
		out.len = 0;
		answer_message(&env, &m, NULL, &out, &res);
		ok_bytes(out.data, out.len, "svc zz\n",
		    "the env's service gives the default reply");
		ok(res.close, "and its close_after_reply");
		template_free(svc.default_reply);
	}

	answer_cycle_free(&cycle);
	answer_cycle_free(&cyclebis);
	buf_free(&out);
	config_free(c);
}

/* Renders a notice onto out, emptied first; returns answer_notice's. */
static int
notice(const struct answer_env *env, enum answer_notice which,
    struct buf *out)
{
	out->len = 0;
	return answer_notice(env, which, out);
}

static void
test_notice(void)
{
	struct conf		*c = conf_new();
	struct conf_service	*svc = &c->service;
	struct answer_env	 env;
	struct buf		 out = { 0 };
	int			 arg = 0, r;

	env_init(&env, c, NULL);
	env.fill_arg = &arg;

	r = notice(&env, ANSWER_GREETING, &out);
	ok(r == 0 && out.len == 0, "no greeting by default: nothing");
	svc->greeting = tpl("hello %{client_address} on %{listener}");
	r = notice(&env, ANSWER_GREETING, &out);
	ok(r == 0, "greeting rendered");
	ok_bytes(out.data, out.len, "hello 192.0.2.7 on main\n",
	    "greeting with a line end under line framing");
	notice(&env, ANSWER_TOO_LONG, &out);
	ok_bytes(out.data, out.len,
	    "error: message longer than 8192 bytes\n", "too-long notice");
	notice(&env, ANSWER_REFUSED, &out);
	ok_bytes(out.data, out.len, "error: too many connections\n",
	    "refusal notice");

	/* appends, like answer_message */
	out.len = 0;
	buf_append(&out, "head:", 5);
	answer_notice(&env, ANSWER_GREETING, &out);
	ok_bytes(out.data, out.len, "head:hello 192.0.2.7 on main\n",
	    "answer_notice appends to out");

	/* the line end is for line framing on a stream only */
	svc->framing.mode = FRAME_RAW;
	notice(&env, ANSWER_GREETING, &out);
	ok_bytes(out.data, out.len, "hello 192.0.2.7 on main",
	    "raw framing: greeting without a line end");
	notice(&env, ANSWER_TOO_LONG, &out);
	ok_bytes(out.data, out.len, "error: message longer than 8192 bytes",
	    "raw framing: too-long without a line end");
	notice(&env, ANSWER_REFUSED, &out);
	ok_bytes(out.data, out.len, "error: too many connections",
	    "raw framing: refusal without a line end");
	svc->framing.mode = FRAME_LINE;
	env.datagram = true;
	notice(&env, ANSWER_GREETING, &out);
	ok_bytes(out.data, out.len, "hello 192.0.2.7 on main",
	    "datagram: greeting without a line end");
	notice(&env, ANSWER_TOO_LONG, &out);
	ok_bytes(out.data, out.len, "error: message longer than 8192 bytes",
	    "datagram: too-long without a line end");
	notice(&env, ANSWER_REFUSED, &out);
	ok_bytes(out.data, out.len, "error: too many connections",
	    "datagram: refusal without a line end");
	env.datagram = false;

	/* a notice is about no message, under the service's limits */
	svc->max_message_bytes = 100;
	notice(&env, ANSWER_TOO_LONG, &out);
	ok_bytes(out.data, out.len, "error: message longer than 100 bytes\n",
	    "too-long tells the service's max_message_bytes");
	svc->max_message_bytes = 8192;
	template_free(svc->greeting);
	svc->greeting = tpl("[%{message}] at %{server_address}:%{server_port}");
	fill_calls = fill_needs = 0;
	arg = 0;
	notice(&env, ANSWER_GREETING, &out);
	ok_bytes(out.data, out.len, "[] at 198.51.100.1:13008\n",
	    "greeting: empty message, server filled in");
	ok(fill_calls == 1 && fill_needs == TEMPLATE_NEED_SERVER && arg == 1,
	    "fill asked for the server, with its arg");

	/* an empty refusal is a silent one: not even a line end */
	template_free(svc->refuse_reply);
	svc->refuse_reply = tpl("");
	out.len = 0;
	buf_append(&out, "head:", 5);
	r = answer_notice(&env, ANSWER_REFUSED, &out);
	ok(r == 0, "empty refusal rendered");
	ok_bytes(out.data, out.len, "head:",
	    "an empty refusal renders nothing at all");
	template_free(svc->too_long_reply);
	svc->too_long_reply = tpl("");
	notice(&env, ANSWER_TOO_LONG, &out);
	ok_bytes(out.data, out.len, "\n",
	    "an empty too-long reply is still a line end");
	template_free(svc->greeting);
	svc->greeting = NULL;
	r = notice(&env, ANSWER_GREETING, &out);
	ok(r == 0 && out.len == 0, "no greeting: nothing, not even a line end");

	buf_free(&out);
	config_free(c);
}

/* Answers "msg" with the counters in cycle; the reply's bytes. */
static const char *
cycled(const struct conf *c, const char *msg, struct answer_cycle *cycle,
    struct buf *out)
{
	struct answer	 res;

	if (build(c, msg, strlen(msg), "", NULL, cycle, out, &res) < 0 ||
	    buf_append(out, "", 1) < 0) {
		printf("Bail out! answer_message \"%s\"\n", msg);
		exit(99);
	}
	return out->data;
}

static void
test_cycle_reload(void)
{
	static const char *const cyc[] = { "one", "two", "three" };
	static const char *const ab[] = { "a", "b" };
	struct opts		 ocyc = { .replies = cyc, .nreplies = 3 };
	struct opts		 oab = { .replies = ab, .nreplies = 2 };
	struct conf		*c = conf_new();
	struct answer_cycle	 cycle = { 0 };
	struct buf		 out = { 0 };
	uint64_t		 first;

	add_rule(c->rules, "next", RULES_EXACT, "next", false, &ocyc);
	is(cycled(c, "next", &cycle, &out), "one", "zero counters are ready");
	is(cycled(c, "next", &cycle, &out), "two", "and count");
	first = rules_generation(c->rules);
	ok(cycle.generation == first, "they count for this rule set");

	/* a reload: a new rule set, its cycling rule in another slot */
	rules_free(c->rules);
	c->rules = rules_new();
	add_rule(c->rules, "ab", RULES_EXACT, "ab", false, &oab);
	add_rule(c->rules, "next", RULES_EXACT, "next", false, &ocyc);
	ok(rules_generation(c->rules) != first,
	    "a new rule set is a new generation");
	is(cycled(c, "next", &cycle, &out), "one",
	    "a new rule set starts the counters again");
	ok(cycle.generation == rules_generation(c->rules),
	    "they count for the new rule set");
	is(cycled(c, "ab", &cycle, &out), "a", "its other cycling rule");
	is(cycled(c, "next", &cycle, &out), "two", "counted apart");
	ok(count(&cycle, 0) == 1 && count(&cycle, 1) == 2,
	    "counters %u %u", count(&cycle, 0), count(&cycle, 1));

	/* a rule set without cycling rules leaves them be */
	rules_free(c->rules);
	c->rules = rules_new();
	add(c->rules, "plain", RULES_EXACT, "next", false);
	is(cycled(c, "next", &cycle, &out), "plain", "no cycling rule");

	answer_cycle_free(&cycle);
	ok(cycle.v == NULL && cycle.generation == 0,
	    "answer_cycle_free leaves the zero value");
	rules_free(c->rules);
	c->rules = rules_new();
	add_rule(c->rules, "next", RULES_EXACT, "next", false, &ocyc);
	is(cycled(c, "next", &cycle, &out), "one", "which is ready again");
	answer_cycle_free(&cycle);
	buf_free(&out);
	config_free(c);
}

int
main(void)
{
	test_message();
	test_notice();
	test_cycle_reload();
	return tap_done();
}
