#ifndef ECHOREPLYD_RULES_H
#define ECHOREPLYD_RULES_H

#include <stddef.h>

#include "buf.h"

/* What a reply template can refer to, for one message. */
struct rules_ctx {
	const char	*message;
	size_t		 message_len;
	const char	*client_address;
	unsigned int	 client_port;
	const char	*listener;
};

struct rules_template;

/*
 * Compiles a reply template: literal bytes, "%%" for a percent sign and
 * "%{name}" variables. On error returns -EINVAL with a message in err.
 */
int	rules_template_compile(const char *src, struct rules_template **,
	    char *err, size_t errlen);
/* Appends the rendered reply to out. Returns 0 or -ENOMEM. */
int	rules_template_render(const struct rules_template *,
	    const struct rules_ctx *, struct buf *out);
const char *rules_template_source(const struct rules_template *);
void	rules_template_free(struct rules_template *);

#endif
