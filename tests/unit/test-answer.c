/* SPDX-License-Identifier: ISC */
/*
 * Answers (src/lib/answer.c): the reply a message gets through the rule
 * set, with its terminator, close, delay and cycling decisions; the
 * notices a listener sends (greeting, too long, refused); cycling
 * counters that start again when the rule set is replaced; scenarios
 * (state, times, reset_counts, the variables); what faults do to the
 * bytes and to close; delays drawn from a range.
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
    const struct sockaddr *peer, struct answer_state *st, struct buf *out,
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
	r = answer_message(&env, &m, st, out, res);
	if ((unsigned int)arg != fill_calls - before) {
		printf("#   fill arg not passed through\n");
		return -1001;
	}
	return r;
}

/* A rule's count on a connection, by the rule's name. */
static uint32_t
count(const struct conf *c, const struct answer_state *st, const char *name)
{
	const struct rules_rule	*r;
	size_t			 i;

	for (i = 0; (r = rules_get(c->rules, i)) != NULL; i++)
		if (r->name != NULL && strcmp(r->name, name) == 0)
			return counts_get(&st->counts, i);
	printf("Bail out! no rule %s\n", name);
	exit(99);
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
	struct answer_state	 cycle, cyclebis;
	const char		*want[] = { "one\n", "two\n", "three\n", "one\n",
				    "two\n" };
	int			 i, r;

	answer_state_init(&cycle, 1, 1);
	answer_state_init(&cyclebis, 1, 2);
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
	ok(rules_get(c->rules, 3)->counts && rules_get(c->rules, 4)->counts,
	    "two cycling rules, counted");
	for (i = 0; i < 5; i++) {
		build(c, LIT("next"), "\n", NULL, &cycle, &out, &res);
		ok_bytes(out.data, out.len, want[i], "cycling reply %d", i + 1);
		ok(res.choice == (size_t)(i % 3), "choice %d is %d (%zu)",
		    i + 1, i % 3, res.choice);
		ok(res.count == (uint32_t)i + 1, "count %d (%u)", i + 1,
		    res.count);
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
	ok(count(c, &cycle, "cycle") == 6 && count(c, &cycle, "cycle2") == 2 &&
	    count(c, &cyclebis, "cycle") == 1 &&
	    count(c, &cyclebis, "cycle2") == 0,
	    "counters %u %u %u %u", count(c, &cycle, "cycle"),
	    count(c, &cycle, "cycle2"), count(c, &cyclebis, "cycle"),
	    count(c, &cyclebis, "cycle2"));
	ok(count(c, &cycle, "slow") == 0 && count(c, &cycle, "bye") == 0,
	    "rules with one reply are not counted");
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

	answer_state_free(&cycle);
	answer_state_free(&cyclebis);
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

/* Answers "msg" on the connection st; the reply's bytes. */
static const char *
cycled(const struct conf *c, const char *msg, struct answer_state *st,
    struct buf *out)
{
	struct answer	 res;

	if (build(c, msg, strlen(msg), "", NULL, st, out, &res) < 0 ||
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
	struct answer_state	 cycle;
	struct buf		 out = { 0 };
	uint64_t		 first;

	answer_state_init(&cycle, 0, 1);
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
	ok(count(c, &cycle, "ab") == 1 && count(c, &cycle, "next") == 2,
	    "counters %u %u", count(c, &cycle, "ab"),
	    count(c, &cycle, "next"));

	/* a rule set without cycling rules leaves them be */
	rules_free(c->rules);
	c->rules = rules_new();
	add(c->rules, "plain", RULES_EXACT, "next", false);
	is(cycled(c, "next", &cycle, &out), "plain", "no cycling rule");

	answer_state_free(&cycle);
	ok(cycle.counts.v == NULL && cycle.counts.cap == 0 &&
	    cycle.counts.used == 0, "answer_state_free leaves no counts");
	rules_free(c->rules);
	c->rules = rules_new();
	add_rule(c->rules, "next", RULES_EXACT, "next", false, &ocyc);
	is(cycled(c, "next", &cycle, &out), "one", "which is ready again");
	is(cycled(c, "next", &cycle, &out), "two", "and counts again");
	answer_state_free(&cycle);
	buf_free(&out);
	config_free(c);
}

/* Answers msg ending in "\n" on st; the reply as a C string. */
static const char *
said(const struct conf *c, const char *msg, struct answer_state *st,
    struct buf *out, struct answer *res)
{
	if (build(c, msg, strlen(msg), "\n", NULL, st, out, res) < 0 ||
	    buf_append(out, "", 1) < 0) {
		printf("Bail out! answer_message \"%s\"\n", msg);
		exit(99);
	}
	out->len--;
	return out->data;
}

/* Replies by one template each, for add_rule(). */
#define REPLY(s)	.replies = (const char *const []){ s }, .nreplies = 1

/* The login of the spec: refused twice, then in, where GET gets data. */
static void
add_auth(struct rules *rs)
{
	static const char *const authed[] = { "authed" };
	struct opts	 ono = { REPLY("NO"), .times = 2 };
	struct opts	 ook = { REPLY("OK"), .next_state = "authed" };
	struct opts	 oget = { REPLY("DATA %{rule_count}"),
			    .states = authed, .nstates = 1 };

	add_rule(rs, "auth-no", RULES_EXACT, "AUTH", false, &ono);
	add_rule(rs, "auth-ok", RULES_EXACT, "AUTH", false, &ook);
	add_rule(rs, "get", RULES_EXACT, "GET", false, &oget);
}

static void
test_scenario(void)
{
	struct conf		*c = conf_new();
	struct answer_state	 st, other;
	struct answer		 res;
	struct buf		 out = { 0 };

	add_auth(c->rules);
	answer_state_init(&st, 5, 1);
	answer_state_init(&other, 5, 2);
	is(said(c, "GET", &st, &out, &res), "GET\n",
	    "GET at the start: the default echo");
	ok(res.rule == NULL && strcmp(res.state, "start") == 0 &&
	    strcmp(res.next_state, "start") == 0, "start -> start");
	is(said(c, "AUTH", &st, &out, &res), "NO\n", "AUTH: NO");
	ok(res.count == 1, "counted 1 (%u)", res.count);
	is(said(c, "AUTH", &st, &out, &res), "NO\n", "AUTH: NO again");
	ok(res.count == 2, "counted 2 (%u)", res.count);
	is(said(c, "AUTH", &st, &out, &res), "OK\n",
	    "AUTH a third time: times ran out, OK");
	ok(strcmp(res.state, "start") == 0 &&
	    strcmp(res.next_state, "authed") == 0, "start -> authed (%s -> "
	    "%s)", res.state, res.next_state);
	ok(st.state == rules_state(c->rules, "authed"),
	    "the connection is authed");
	is(said(c, "GET", &st, &out, &res), "DATA 1\n",
	    "GET when authed: DATA 1");
	ok(res.rule != NULL && strcmp(res.rule_label, "get") == 0 &&
	    res.count == 1 && strcmp(res.state, "authed") == 0 &&
	    strcmp(res.next_state, "authed") == 0, "rule get, authed -> "
	    "authed");
	is(said(c, "GET", &st, &out, &res), "DATA 2\n", "GET: DATA 2");
	is(said(c, "AUTH", &st, &out, &res), "OK\n", "AUTH when authed: OK");
	ok(strcmp(res.state, "authed") == 0 &&
	    strcmp(res.next_state, "authed") == 0, "authed -> authed");
	is(said(c, "GET", &st, &out, &res), "DATA 3\n", "GET: DATA 3");

	is(said(c, "AUTH", &other, &out, &res), "NO\n",
	    "another connection has its own story");
	is(said(c, "GET", &other, &out, &res), "GET\n", "and is not authed");

	is(said(c, "AUTH", NULL, &out, &res), "NO\n", "no story: NO");
	is(said(c, "AUTH", NULL, &out, &res), "NO\n", "and NO forever");
	ok(res.count == 0, "nothing counted (%u)", res.count);
	is(said(c, "GET", NULL, &out, &res), "GET\n", "never authed");

	/* a reload: a new rule set starts the story again */
	rules_free(c->rules);
	c->rules = rules_new();
	add_auth(c->rules);
	is(said(c, "GET", &st, &out, &res), "GET\n",
	    "after a reload: back at the start");
	ok(strcmp(res.state, "start") == 0 && st.generation ==
	    rules_generation(c->rules), "in state start, for the new rules");
	is(said(c, "AUTH", &st, &out, &res), "NO\n",
	    "and the counts are 0 again");
	ok(res.count == 1, "counted 1 (%u)", res.count);

	answer_state_free(&st);
	answer_state_free(&other);
	buf_free(&out);
	config_free(c);
}

static void
test_state_vars(void)
{
	static const char *const inb[] = { "b" };
	struct opts	 ogo = { REPLY("%{state}->%{next_state}"),
			    .next_state = "b" };
	struct opts	 ostay = { REPLY("%{state}->%{next_state}") };
	struct opts	 oback = { REPLY("%{state}->%{next_state}"),
			    .next_state = "start", .states = inb,
			    .nstates = 1 };
	struct conf		*c = conf_new();
	struct answer_state	 st;
	struct answer		 res;
	struct buf		 out = { 0 };

	add_rule(c->rules, "go", RULES_EXACT, "go", false, &ogo);
	add_rule(c->rules, "stay", RULES_EXACT, "stay", false, &ostay);
	add_rule(c->rules, "back", RULES_EXACT, "back", false, &oback);
	template_free(c->service.default_reply);
	c->service.default_reply =
	    tpl("%{state}/%{next_state}/%{rule_count}:%{message}");
	answer_state_init(&st, 0, 1);
	is(said(c, "stay", &st, &out, &res), "start->start\n",
	    "no next_state: %%{next_state} is %%{state}");
	is(said(c, "go", &st, &out, &res), "start->b\n", "next_state b");
	is(said(c, "stay", &st, &out, &res), "b->b\n", "in b");
	is(said(c, "go", &st, &out, &res), "b->b\n", "to b from b");
	is(said(c, "back", &st, &out, &res), "b->start\n", "back to start");
	is(said(c, "x", &st, &out, &res), "start/start/1:x\n",
	    "the default reply: its state and count");
	is(said(c, "y", &st, &out, &res), "start/start/2:y\n",
	    "the default reply counts its messages");
	is(said(c, "go", NULL, &out, &res), "start->b\n",
	    "no story: next_state still said");
	is(said(c, "stay", NULL, &out, &res), "start->start\n",
	    "but not kept");
	is(said(c, "x", NULL, &out, &res), "start/start/0:x\n",
	    "no story: the default reply counts 0");
	answer_state_free(&st);
	buf_free(&out);
	config_free(c);
}

static void
test_reset_counts(void)
{
	static const char *const abc[] = { "a", "b", "c" };
	struct opts	 ocount = { REPLY("%{rule_count}") };
	struct opts	 olimited = { .times = 1 };
	struct opts	 ogo = { .next_state = "other", .reset_counts = true };
	struct opts	 ostay = { .next_state = "other",
			    .reset_counts = true };
	struct opts	 okeep = { .next_state = "start" };
	struct opts	 ocyc = { .replies = abc, .nreplies = 3 };
	struct conf		*c = conf_new();
	struct answer_state	 st;
	struct answer		 res;
	struct buf		 out = { 0 };

	add_rule(c->rules, "count", RULES_EXACT, "c", false, &ocount);
	add_rule(c->rules, "limited", RULES_EXACT, "l", false, &olimited);
	add_rule(c->rules, "go", RULES_EXACT, "go", false, &ogo);
	add_rule(c->rules, "stay", RULES_EXACT, "stay", false, &ostay);
	add_rule(c->rules, "keep", RULES_EXACT, "keep", false, &okeep);
	add_rule(c->rules, "cyc", RULES_EXACT, "cyc", false, &ocyc);
	answer_state_init(&st, 0, 1);
	is(said(c, "c", &st, &out, &res), "1\n", "%%{rule_count} 1");
	is(said(c, "c", &st, &out, &res), "2\n", "%%{rule_count} 2");
	is(said(c, "l", &st, &out, &res), "limited\n", "times = 1: once");
	is(said(c, "l", &st, &out, &res), "l\n", "then the echo");
	is(said(c, "cyc", &st, &out, &res), "a\n", "cycling: a");
	is(said(c, "cyc", &st, &out, &res), "b\n", "cycling: b");
	is(said(c, "go", &st, &out, &res), "go\n",
	    "reset_counts to another state");
	is(said(c, "c", &st, &out, &res), "1\n", "%%{rule_count} from 1 again");
	is(said(c, "l", &st, &out, &res), "limited\n", "times again");
	is(said(c, "cyc", &st, &out, &res), "a\n", "cycling from the first");
	is(said(c, "stay", &st, &out, &res), "stay\n",
	    "reset_counts to the state it is in");
	is(said(c, "c", &st, &out, &res), "2\n", "resets nothing");
	is(said(c, "keep", &st, &out, &res), "keep\n",
	    "next_state without reset_counts");
	is(said(c, "c", &st, &out, &res), "3\n", "counts kept");
	answer_state_free(&st);
	buf_free(&out);
	config_free(c);
}

/* A rule that fails its draw is not counted. */
static void
test_draw_counts(void)
{
	struct opts		 ocoin = { REPLY("coin %{rule_count}"),
				    .chancy = true, .probability = 0.5 };
	struct conf		*c = conf_new();
	struct answer_state	 st;
	struct answer		 res;
	struct buf		 out = { 0 };
	char			 want[32];
	int			 i, coins = 0, wrong = 0;

	add_rule(c->rules, "coin", RULES_EXACT, "p", false, &ocoin);
	answer_state_init(&st, 11, 1);
	for (i = 0; i < 200; i++) {
		said(c, "p", &st, &out, &res);
		if (res.rule == NULL)
			continue;
		snprintf(want, sizeof(want), "coin %d\n", ++coins);
		wrong += strcmp(out.data, want) != 0;
	}
	ok(coins > 50 && coins < 150 && wrong == 0, "probability 0.5: %d of "
	    "200 answered, each counted (%d wrong)", coins, wrong);
	answer_state_free(&st);
	buf_free(&out);
	config_free(c);
}

/* Answers msg with term on st (a datagram's env when dgram); 0 or <0. */
static int
faulty(const struct conf *c, const char *msg, const char *term, bool dgram,
    struct answer_state *st, struct buf *out, struct answer *res)
{
	struct answer_env	 env;
	struct frame_msg	 m = { msg, strlen(msg), term, strlen(term) };

	env_init(&env, c, NULL);
	env.datagram = dgram;
	out->len = 0;
	return answer_message(&env, &m, st, out, res);
}

static void
test_fault_bytes(void)
{
	struct opts	 odup = { REPLY("ab"), .fault.duplicate = 2 };
	struct opts	 ocut = { REPLY("hello"), .fault.truncates = true,
			    .fault.truncate = 3 };
	struct opts	 ocuteol = { REPLY("hello"), .fault.truncates = true,
			    .fault.truncate = 6 };
	struct opts	 ocutcr = { REPLY("hello"), .fault.truncates = true,
			    .fault.truncate = 6 };
	struct opts	 ocutlong = { REPLY("hello"), .fault.truncates = true,
			    .fault.truncate = 100 };
	struct opts	 ocut0 = { REPLY("hello"), .fault.truncates = true };
	struct opts	 ojunk = { REPLY("ab"), .fault.garbage = 5 };
	struct opts	 ojunkonly = { .no_reply = true, .fault.garbage = 4 };
	struct opts	 oall = { REPLY("ab"), .fault.duplicate = 1,
			    .fault.truncates = true, .fault.truncate = 5,
			    .fault.garbage = 2 };
	struct opts	 okeep = { REPLY("hello"), .fault.truncates = true,
			    .fault.truncate = 2, .fault.keep_open = true };
	struct opts	 ojunkkeep = { REPLY("ab"), .fault.garbage = 1,
			    .fault.keep_open = true };
	struct opts	 odupsilent = { .no_reply = true,
			    .fault.duplicate = 3 };
	struct opts	 ocutreset = { REPLY("hello"), .fault.truncates = true,
			    .fault.truncate = 2, .fault.reset = true };
	struct conf		*c = conf_new();
	struct answer_state	 st, same, other;
	struct answer		 res;
	struct buf		 out = { 0 }, out2 = { 0 };
	char			 junk[5];
	int			 r;

	add_rule(c->rules, "dup", RULES_EXACT, "dup", false, &odup);
	add_rule(c->rules, "cut", RULES_EXACT, "cut", false, &ocut);
	add_rule(c->rules, "cut-eol", RULES_EXACT, "cut-eol", false,
	    &ocuteol);
	add_rule(c->rules, "cut-cr", RULES_EXACT, "cut-cr", false, &ocutcr);
	add_rule(c->rules, "cut-long", RULES_EXACT, "cut-long", false,
	    &ocutlong);
	add_rule(c->rules, "cut0", RULES_EXACT, "cut0", false, &ocut0);
	add_rule(c->rules, "junk", RULES_EXACT, "junk", false, &ojunk);
	add_rule(c->rules, "junk-only", RULES_EXACT, "junk-only", false,
	    &ojunkonly);
	add_rule(c->rules, "all", RULES_EXACT, "all", false, &oall);
	add_rule(c->rules, "keep", RULES_EXACT, "keep", false, &okeep);
	add_rule(c->rules, "junk-keep", RULES_EXACT, "junk-keep", false,
	    &ojunkkeep);
	add_rule(c->rules, "dup-silent", RULES_EXACT, "dup-silent", false,
	    &odupsilent);
	add_rule(c->rules, "cut-reset", RULES_EXACT, "cut-reset", false,
	    &ocutreset);
	answer_state_init(&st, 3, 1);
	answer_state_init(&same, 3, 1);
	answer_state_init(&other, 3, 2);

	r = faulty(c, "plain", "\n", false, &st, &out, &res);
	ok(r == 0 && res.fault == NULL, "no fault: none said");
	r = faulty(c, "dup", "\n", false, &st, &out, &res);
	ok(r == 0 && res.fault != NULL && res.fault->duplicate == 2,
	    "duplicate: the fault said");
	ok_bytes(out.data, out.len, "ab\nab\nab\n",
	    "duplicate = 2: three copies, line ends included");
	ok(!res.close, "duplicate does not close");
	faulty(c, "dup", "\r\n", false, &st, &out, &res);
	ok_bytes(out.data, out.len, "ab\r\nab\r\nab\r\n",
	    "duplicate with the message's CRLF");

	faulty(c, "cut", "\n", false, &st, &out, &res);
	ok_bytes(out.data, out.len, "hel", "truncate = 3");
	ok(res.close && !res.silent, "truncate closes");
	faulty(c, "cut-eol", "\n", false, &st, &out, &res);
	ok_bytes(out.data, out.len, "hello\n", "truncate = 6: the line end "
	    "is one of the bytes");
	faulty(c, "cut-cr", "\r\n", false, &st, &out, &res);
	ok_bytes(out.data, out.len, "hello\r", "truncate = 6 cuts a CRLF");
	faulty(c, "cut-long", "\n", false, &st, &out, &res);
	ok_bytes(out.data, out.len, "hello\n", "truncate past the end: all");
	ok(res.close, "and still closes");
	r = faulty(c, "cut0", "\n", false, &st, &out, &res);
	ok(r == 0 && out.len == 0 && res.close, "truncate = 0: no bytes, "
	    "closes");

	faulty(c, "junk", "\n", false, &st, &out, &res);
	ok(out.len == 3 + 5 && memcmp(out.data, "ab\n", 3) == 0,
	    "garbage = 5: the reply, then 5 bytes (%zu in all)", out.len);
	ok(res.close && !res.silent, "garbage closes");
	memcpy(junk, out.data + 3, 5);
	faulty(c, "junk", "\n", false, &same, &out2, &res);
	ok(out2.len == 8 && memcmp(out2.data + 3, junk, 5) == 0,
	    "the same seed and stream: the same garbage");
	faulty(c, "junk", "\n", false, &other, &out2, &res);
	ok(out2.len == 8 && memcmp(out2.data + 3, junk, 5) != 0,
	    "another stream: other garbage");
	faulty(c, "junk", "\n", false, NULL, &out2, &res);
	ok(out2.len == 8 && memcmp(out2.data, "ab\n", 3) == 0,
	    "no story: garbage all the same (%zu)", out2.len);
	r = faulty(c, "junk-only", "\n", false, &st, &out, &res);
	ok(r == 0 && out.len == 4 && !res.silent && res.close,
	    "no_reply with garbage: the garbage alone (%zu), not silent",
	    out.len);
	r = faulty(c, "dup-silent", "\n", false, &st, &out, &res);
	ok(r == 0 && out.len == 0 && res.silent,
	    "no_reply with duplicate: still silent");

	faulty(c, "all", "\n", false, &st, &out, &res);
	ok(out.len == 7 && memcmp(out.data, "ab\nab", 5) == 0,
	    "duplicate, then truncate, then garbage (%zu bytes)", out.len);
	ok(res.close, "which closes");

	faulty(c, "keep", "\n", false, &st, &out, &res);
	ok_bytes(out.data, out.len, "he", "truncate with keep_open");
	ok(!res.close, "keep_open: no close");
	faulty(c, "junk-keep", "\n", false, &st, &out, &res);
	ok(out.len == 4 && !res.close, "garbage with keep_open: no close");
	faulty(c, "cut-reset", "\n", false, &st, &out, &res);
	ok(out.len == 2 && !res.close && res.fault->reset,
	    "truncate with reset: reset ends it, not close");

	/* a datagram is sent again whole by the caller: one copy here */
	faulty(c, "dup", "", true, &st, &out, &res);
	ok_bytes(out.data, out.len, "ab", "datagram: duplicate not in the "
	    "bytes");
	ok(res.fault != NULL && res.fault->duplicate == 2,
	    "but said, for the caller");
	faulty(c, "cut", "", true, &st, &out, &res);
	ok_bytes(out.data, out.len, "hel", "datagram: truncate");
	faulty(c, "junk", "\n", true, &st, &out, &res);
	ok(out.len == 3 + 5 && memcmp(out.data, "ab\n", 3) == 0,
	    "datagram: garbage after the reply");

	/* length framing: the prefix is part of each copy */
	c->service.framing.mode = FRAME_LENGTH;
	c->service.framing.prefix_bytes = 2;
	c->service.framing.big_endian = true;
	faulty(c, "dup", "", false, &st, &out, &res);
	ok(out.len == 12 && memcmp(out.data, "\0\2ab\0\2ab\0\2ab", 12) == 0,
	    "length framing: each copy with its prefix (%zu)", out.len);
	faulty(c, "cut", "", false, &st, &out, &res);
	ok(out.len == 3 && memcmp(out.data, "\0\5h", 3) == 0,
	    "length framing: truncate counts the prefix");

	answer_state_free(&st);
	answer_state_free(&same);
	answer_state_free(&other);
	buf_free(&out);
	buf_free(&out2);
	config_free(c);
}

static void
test_delay_range(void)
{
	struct opts		 orange = { .delay_ms = 10,
				    .delay_max_ms = 20 };
	struct opts		 ofixed = { .delay_ms = 7 };
	struct conf		*c = conf_new();
	struct answer_state	 st;
	struct answer		 res;
	struct buf		 out = { 0 };
	bool			 seen[21] = { false };
	int			 i, outside = 0, values = 0;

	add_rule(c->rules, "range", RULES_EXACT, "range", false, &orange);
	add_rule(c->rules, "fixed", RULES_EXACT, "fixed", false, &ofixed);
	ok(rules_get(c->rules, 0)->delay_ms == 10 &&
	    rules_get(c->rules, 0)->delay_max_ms == 20 &&
	    rules_get(c->rules, 1)->delay_max_ms == 7,
	    "delay range kept; one number is a range of one");
	answer_state_init(&st, 8, 1);
	for (i = 0; i < 500; i++) {
		said(c, "range", &st, &out, &res);
		if (res.delay_ms < 10 || res.delay_ms > 20)
			outside++;
		else
			seen[res.delay_ms] = true;
	}
	for (i = 10; i <= 20; i++)
		values += seen[i];
	ok(outside == 0 && values == 11, "delay_ms [10, 20]: 500 draws, none "
	    "outside (%d), every value drawn (%d of 11)", outside, values);
	said(c, "range", NULL, &out, &res);
	ok(res.delay_ms == 10, "no story: the least (%llu)",
	    (unsigned long long)res.delay_ms);
	said(c, "fixed", &st, &out, &res);
	ok(res.delay_ms == 7, "a fixed delay (%llu)",
	    (unsigned long long)res.delay_ms);
	answer_state_free(&st);
	buf_free(&out);
	config_free(c);
}

/* Bytes that answer no message, framed as the listener frames replies. */
static void
test_push(void)
{
	struct conf_service	 svc;
	struct buf		 out = { 0 };

	memset(&svc, 0, sizeof(svc));
	svc.framing.mode = FRAME_LINE;
	ok(answer_push(&svc, "hi", 2, &out) == 0 && out.len == 3 &&
	    memcmp(out.data, "hi\n", 3) == 0, "push: a line gets its LF");
	out.len = 0;
	svc.framing.mode = FRAME_DELIMITER;
	memcpy(svc.framing.delim, "\0\0", 2);
	svc.framing.delim_len = 2;
	ok(answer_push(&svc, "ab", 2, &out) == 0 && out.len == 4 &&
	    memcmp(out.data, "ab\0\0", 4) == 0,
	    "push: a delimited reply gets its delimiter");
	out.len = 0;
	svc.framing.mode = FRAME_LENGTH;
	svc.framing.prefix_bytes = 2;
	svc.framing.big_endian = true;
	ok(answer_push(&svc, "xyz", 3, &out) == 0 && out.len == 5 &&
	    memcmp(out.data, "\0\3xyz", 5) == 0,
	    "push: a length-framed reply gets its prefix");
	out.len = 0;
	svc.framing.prefix_bytes = 1;
	{
		char big[300];

		memset(big, 'b', sizeof(big));
		ok(answer_push(&svc, big, sizeof(big), &out) == -EMSGSIZE &&
		    out.len == 0, "push: too long for its prefix, nothing "
		    "written");
	}
	svc.framing.mode = FRAME_RAW;
	ok(answer_push(&svc, "raw", 3, &out) == 0 && out.len == 3 &&
	    memcmp(out.data, "raw", 3) == 0, "push: raw goes as it is");
	buf_free(&out);
}

/* Only the plain echo is answered as a run of the input's own bytes. */
static void
test_mirrors(void)
{
	struct conf	*c = conf_new();
	struct conf_service *svc = &c->service;

	ok(answer_mirrors(c, svc), "the default echo mirrors");
	svc->framing.mode = FRAME_DELIMITER;
	ok(answer_mirrors(c, svc), "so does a delimited echo");
	svc->framing.mode = FRAME_LENGTH;
	ok(!answer_mirrors(c, svc), "not a length-prefixed one");
	svc->framing.mode = FRAME_LINE;

	svc->close_after_reply = true;
	ok(!answer_mirrors(c, svc), "not with close_after_reply");
	svc->close_after_reply = false;
	svc->close_after_messages = 3;
	ok(!answer_mirrors(c, svc), "not with close_after_messages");
	svc->close_after_messages = 0;
	svc->operator = true;
	ok(!answer_mirrors(c, svc), "not with the operator");
	svc->operator = false;
	svc->bandwidth = 100;
	ok(!answer_mirrors(c, svc), "not with a bandwidth");
	svc->bandwidth = 0;

	template_free(svc->default_reply);
	svc->default_reply = tpl("%{message}!");
	ok(!answer_mirrors(c, svc), "not with another default_reply");
	template_free(svc->default_reply);
	svc->default_reply = tpl("%{message}");
	ok(answer_mirrors(c, svc), "the echo again");

	add(c->rules, "never", RULES_EXACT, "never sent", false);
	ok(!answer_mirrors(c, svc), "not with a rule, even one never hit");
	config_free(c);
}

/*
 * answer_fixed() against answer_message() on the same message, the same
 * connection state: 1 with the same bytes and result (want), or 0 (the
 * message needs answer_message(); want NULL). Returns what answer_fixed()
 * returned, or -1 after a failed check.
 */
static int
fixed_same(const struct conf *c, const char *msg, const char *term,
    struct answer_state *st, const char *want)
{
	struct answer_state	 copy = *st;
	struct answer		 a, b;
	struct buf		 fo = { 0 }, mo = { 0 };
	struct frame_msg	 m = { .data = msg, .len = strlen(msg),
				    .term = term, .term_len = strlen(term) };
	int			 r, same;

	r = answer_fixed(c, &c->service, &copy, &m, &fo, &a);
	if (r == 0) {
		same = fo.len == 0;
		if (!same)
			printf("#   \"%s\": not answered, yet %zu bytes out\n",
			    msg, fo.len);
	} else {
		if (build(c, msg, strlen(msg), term, NULL, st, &mo, &b) < 0)
			r = -1;
		same = r == 1 && fo.len == mo.len &&
		    memcmp(fo.data, mo.data, fo.len) == 0 &&
		    want != NULL && fo.len == strlen(want) &&
		    memcmp(fo.data, want, fo.len) == 0 &&
		    a.rule == b.rule && a.rule_label == b.rule_label &&
		    a.rule_label_len == b.rule_label_len &&
		    a.choice == b.choice && a.silent == b.silent &&
		    a.close == b.close && a.operator == b.operator &&
		    a.delay_ms == b.delay_ms && a.fault == b.fault &&
		    a.count == b.count && strcmp(a.state, b.state) == 0 &&
		    strcmp(a.next_state, b.next_state) == 0 &&
		    copy.state == st->state && copy.rng.s == st->rng.s &&
		    copy.counts.used == st->counts.used;
		if (!same)
			printf("#   \"%s\": answer_fixed() %d \"%.*s\", "
			    "answer_message() \"%.*s\"\n", msg, r, (int)fo.len,
			    fo.data, (int)mo.len, mo.data);
	}
	buf_free(&fo);
	buf_free(&mo);
	return same ? r : -1;
}

static void
test_fixed(void)
{
	static const char *const only_main[] = { "other" };
	struct opts	 opong = { REPLY("+PONG") };
	struct opts	 ohi = { REPLY("hi") };
	struct opts	 olisten = { REPLY("x"), .listeners = only_main,
			    .nlisteners = 1 };
	struct opts	 ochance = { REPLY("x"), .chancy = true,
			    .probability = 0.5 };
	struct opts	 onext = { REPLY("in"), .next_state = "in" };
	struct opts	 owho = { REPLY("%{client_address}") };
	struct opts	 oclose = { REPLY("bye"), .close = true };
	struct opts	 odelay = { REPLY("late"), .delay_ms = 5 };
	struct opts	 otimes = { REPLY("once"), .times = 1 };
	struct conf	*c = conf_new();
	struct answer_state st;
	struct answer	 res;
	struct buf	 out = { 0 };
	/* messages whose first rule is not fixed */
	static const struct {
		const char	*msg, *what;
	} slow[] = {
		{ "L", "a rule for one listener" },
		{ "C", "a rule with a probability" },
		{ "W", "a rule whose reply is a template" },
		{ "X", "a rule that closes" },
		{ "D", "a rule with a delay" },
		{ "T", "a rule with times" },
		{ "dup", "the first rule with those bytes asks who" },
	};
	size_t		 i;

	answer_state_init(&st, 3, 1);
	ok(answer_fixes(c, &c->service), "the plain echo: fixed answers");
	ok(fixed_same(c, "hello", "\n", &st, "hello\n") == 1,
	    "no rules: the echo");

	add_rule(c->rules, "ping", RULES_EXACT, "PING", false, &opong);
	add_rule(c->rules, "hi", RULES_EXACT, "hello", true, &ohi);
	add_rule(c->rules, "listen", RULES_EXACT, "L", false, &olisten);
	add_rule(c->rules, "chance", RULES_EXACT, "C", false, &ochance);
	add_rule(c->rules, "next", RULES_EXACT, "N", false, &onext);
	add_rule(c->rules, "who", RULES_EXACT, "W", false, &owho);
	add_rule(c->rules, "close", RULES_EXACT, "X", false, &oclose);
	add_rule(c->rules, "delay", RULES_EXACT, "D", false, &odelay);
	add_rule(c->rules, "times", RULES_EXACT, "T", false, &otimes);
	add_rule(c->rules, "dup-who", RULES_EXACT, "dup", false, &olisten);
	add_rule(c->rules, "dup", RULES_EXACT, "dup", false, &opong);
	add_rule(c->rules, "pong2", RULES_EXACT, "PING", false, &ohi);
	add_rule(c->rules, "first", RULES_EXACT, "F", false, &ohi);
	add_rule(c->rules, "first-who", RULES_EXACT, "F", false, &olisten);
	ok(answer_fixes(c, &c->service), "exact rules only: fixed answers");
	ok(fixed_same(c, "PING", "\r\n", &st, "+PONG\r\n") == 1,
	    "a fixed rule's text, with the message's line end");
	ok(fixed_same(c, "HeLLo", "\n", &st, "hi\n") == 1,
	    "an ignore_case rule");
	ok(fixed_same(c, "ping", "\n", &st, "ping\n") == 1,
	    "no rule: the default echo");
	ok(fixed_same(c, "", "\n", &st, "\n") == 1, "an empty line");
	for (i = 0; i < sizeof(slow) / sizeof(slow[0]); i++)
		ok(fixed_same(c, slow[i].msg, "\n", &st, NULL) == 0,
		    "%s: answer_message()", slow[i].what);
	ok(fixed_same(c, "F", "\n", &st, "hi\n") == 1,
	    "the first rule with those bytes is fixed: its text");

	/* a rule moved the connection on: fixed answers say where it is */
	ok(fixed_same(c, "N", "\n", &st, NULL) == 0,
	    "a rule with next_state: answer_message()");
	ok(said(c, "N", &st, &out, &res) != NULL &&
	    st.state == rules_state(c->rules, "in"), "now in \"in\"");
	buf_free(&out);
	ok(fixed_same(c, "PING", "\n", &st, "+PONG\n") == 1,
	    "a fixed rule in another state: the same result");

	template_free(c->service.default_reply);
	c->service.default_reply = tpl("nope");
	ok(answer_fixes(c, &c->service), "a fixed default_reply");
	ok(fixed_same(c, "zzz", "\n", &st, "nope\n") == 1,
	    "no rule: the default text");
	template_free(c->service.default_reply);
	c->service.default_reply = tpl("%{client_address}");
	ok(!answer_fixes(c, &c->service), "not with a templated default");
	template_free(c->service.default_reply);
	c->service.default_reply = tpl("%{message}");

	add(c->rules, "glob", RULES_GLOB, "a*", false);
	ok(!answer_fixes(c, &c->service), "not with a pattern rule");
	config_free(c);

	c = conf_new();
	add(c->rules, "fixed", RULES_EXACT, "a", false);
	ok(answer_fixes(c, &c->service), "one exact rule: fixed answers");
	add(c->rules, "all", RULES_ANY, NULL, false);
	ok(!answer_fixes(c, &c->service), "not with a rule for every message");
	answer_state_free(&st);
	config_free(c);
}

int
main(void)
{
	test_push();
	test_message();
	test_notice();
	test_cycle_reload();
	test_scenario();
	test_state_vars();
	test_reset_counts();
	test_draw_counts();
	test_fault_bytes();
	test_delay_range();
	test_mirrors();
	test_fixed();
	return tap_done();
}
